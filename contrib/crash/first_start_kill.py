#!/usr/bin/env python3
"""Kills the server within its first 30 ms on a fresh data_dir, N times
(default 60), and checks that each time it starts again. Before the store
was created under a temporary name and renamed into place, 15 of 60 runs
left an accounts.redb that redb refused ("invalid data") for good.

    cargo build --release && contrib/crash/first_start_kill.py [N]

Uses 127.0.0.1 ports 20000-20999 and /tmp/ircd-first-start-kill/."""
import subprocess, time, random, os, shutil, sys
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("IRCD_BIN", os.path.join(ROOT, "target/release/ircd"))
TOP = "/tmp/ircd-first-start-kill"
bad=0
for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 60):
    d=f"{TOP}/d{i}"
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    port=20000+i%1000
    cfg=f'[server]\nname = "irc.test"\nnetwork = "T"\ndata_dir = "{d}/data"\n[[listen]]\naddress = "127.0.0.1:{port}"\n'
    open(f"{d}/ircd.toml","w").write(cfg)
    p=subprocess.Popen([BIN,"--config",f"{d}/ircd.toml"],stderr=subprocess.DEVNULL,stdout=subprocess.DEVNULL)
    time.sleep(random.uniform(0,0.03))
    p.kill(); p.wait()
    q=subprocess.Popen([BIN,"--config",f"{d}/ircd.toml"],stderr=subprocess.PIPE,stdout=subprocess.DEVNULL)
    time.sleep(0.4)
    if q.poll() is not None:
        err=q.stderr.read().decode()
        bad+=1
        print("FAILED to restart", i, os.listdir(d+"/data") if os.path.exists(d+"/data") else None, err[-600:])
    else:
        q.kill(); q.wait()
        shutil.rmtree(d, ignore_errors=True)
print(f"{bad} of {i + 1} restarts failed")
sys.exit(1 if bad else 0)
