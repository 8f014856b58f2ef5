//! The PROXY protocol (haproxy's proxy-protocol.txt, v1 text and v2
//! binary), read at the start of every connection to a `proxy = true`
//! listener, so that a client behind haproxy or nginx's stream module is
//! known by its own address. Only proxies in `[gateway] trusted_proxies`
//! may send one; a listener without `proxy = true` never reads one (a v2
//! header there is just bytes, which end with `QUIT`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The 12 bytes every v2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The longest v1 line the specification allows, CRLF included.
const V1_MAX: usize = 107;

/// The longest v2 address block we accept (addresses and TLVs).
const V2_MAX: usize = 1024;

/// Reads a PROXY header off `s`: Ok(Some(client address)), Ok(None) for a
/// header that carries no address (v2 LOCAL, v1 UNKNOWN, a unix socket), or
/// why the header is refused. Reads exactly the header, nothing after it.
pub async fn read_header<S: AsyncRead + Unpin>(
    s: &mut S,
) -> Result<Option<SocketAddr>, &'static str> {
    let mut start = [0u8; 12];
    s.read_exact(&mut start)
        .await
        .map_err(|_| "no PROXY header")?;
    if start == V2_SIGNATURE {
        let mut head = [0u8; 4];
        s.read_exact(&mut head)
            .await
            .map_err(|_| "short PROXY v2 header")?;
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        if len > V2_MAX {
            return Err("PROXY v2 header too long");
        }
        let mut body = vec![0u8; len];
        s.read_exact(&mut body)
            .await
            .map_err(|_| "short PROXY v2 header")?;
        return parse_v2(head[0], head[1], &body);
    }
    if !start.starts_with(b"PROXY ") {
        return Err("no PROXY header");
    }
    let mut line = start.to_vec();
    while !line.ends_with(b"\r\n") {
        if line.len() >= V1_MAX {
            return Err("PROXY v1 header too long");
        }
        let mut b = [0u8; 1];
        s.read_exact(&mut b)
            .await
            .map_err(|_| "short PROXY v1 header")?;
        line.push(b[0]);
    }
    parse_v1(&line)
}

/// `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`, TCP6 alike, or `PROXY UNKNOWN ...`.
pub fn parse_v1(line: &[u8]) -> Result<Option<SocketAddr>, &'static str> {
    let text = std::str::from_utf8(line).map_err(|_| "bad PROXY v1 header")?;
    let text = text.strip_suffix("\r\n").ok_or("bad PROXY v1 header")?;
    let parts: Vec<&str> = text.split(' ').collect();
    match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(None),
        ["PROXY", fam @ ("TCP4" | "TCP6"), src, _dst, sport, _dport] => {
            let ip: IpAddr = src.parse().map_err(|_| "bad PROXY v1 address")?;
            if ip.is_ipv4() != (*fam == "TCP4") {
                return Err("bad PROXY v1 address");
            }
            let port: u16 = sport.parse().map_err(|_| "bad PROXY v1 port")?;
            Ok(Some(SocketAddr::new(ip, port)))
        }
        _ => Err("bad PROXY v1 header"),
    }
}

/// The v2 header after its signature: version and command, family and
/// transport, then the address block.
pub fn parse_v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Result<Option<SocketAddr>, &'static str> {
    if ver_cmd >> 4 != 2 {
        return Err("bad PROXY v2 version");
    }
    match ver_cmd & 0x0f {
        // LOCAL: the proxy's own connection (a health check).
        0 => return Ok(None),
        1 => {}
        _ => return Err("bad PROXY v2 command"),
    }
    match fam >> 4 {
        // AF_INET: src, dst (4 bytes each), sport, dport.
        1 => {
            let b = body.get(..12).ok_or("short PROXY v2 address")?;
            let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            let port = u16::from_be_bytes([b[8], b[9]]);
            Ok(Some(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        // AF_INET6: src, dst (16 bytes each), sport, dport.
        2 => {
            let b = body.get(..36).ok_or("short PROXY v2 address")?;
            let mut src = [0u8; 16];
            src.copy_from_slice(&b[..16]);
            let port = u16::from_be_bytes([b[32], b[33]]);
            Ok(Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(src)), port)))
        }
        // AF_UNSPEC, AF_UNIX: no address to take.
        0 | 3 => Ok(None),
        _ => Err("bad PROXY v2 family"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1() {
        assert_eq!(
            parse_v1(b"PROXY TCP4 192.0.2.7 10.0.0.1 56324 6667\r\n"),
            Ok(Some("192.0.2.7:56324".parse().unwrap()))
        );
        assert_eq!(
            parse_v1(b"PROXY TCP6 2001:db8::7 ::1 4000 6667\r\n"),
            Ok(Some("[2001:db8::7]:4000".parse().unwrap()))
        );
        assert_eq!(parse_v1(b"PROXY UNKNOWN\r\n"), Ok(None));
        assert!(parse_v1(b"PROXY TCP4 2001:db8::7 ::1 4000 6667\r\n").is_err());
        assert!(parse_v1(b"PROXY TCP4 x y 1 2\r\n").is_err());
        assert!(parse_v1(b"PROXY TCP4 192.0.2.7 10.0.0.1 56324\r\n").is_err());
    }

    #[test]
    fn v2() {
        let mut body = vec![192, 0, 2, 7, 10, 0, 0, 1];
        body.extend_from_slice(&4000u16.to_be_bytes());
        body.extend_from_slice(&6667u16.to_be_bytes());
        assert_eq!(
            parse_v2(0x21, 0x11, &body),
            Ok(Some("192.0.2.7:4000".parse().unwrap()))
        );
        assert_eq!(parse_v2(0x20, 0x00, &[]), Ok(None));
        assert!(parse_v2(0x11, 0x11, &body).is_err());
        assert!(parse_v2(0x21, 0x11, &body[..6]).is_err());
    }

    #[tokio::test]
    async fn reads_exactly_the_header() {
        let mut input: &[u8] = b"PROXY TCP4 192.0.2.7 10.0.0.1 56324 6667\r\nNICK a\r\n";
        let got = read_header(&mut input).await;
        assert_eq!(got, Ok(Some("192.0.2.7:56324".parse().unwrap())));
        assert_eq!(input, b"NICK a\r\n");
        let mut input: &[u8] = b"NICK a\r\nUSER a 0 * :a\r\n";
        assert!(read_header(&mut input).await.is_err());
    }
}
