//! Picking free loopback ports for brokers.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

use crate::TestkitError;

/// Ports this process has handed out; the kernel may offer a just-released port again.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// How many kernel offers to try before giving up on finding a port not handed out yet.
const OFFERS: usize = 64;

/// Returns a port on 127.0.0.1 that was free a moment ago and that this process never handed out.
///
/// The kernel can offer a released port again at once, so two calls in a row (a broker's client
/// and controller listeners) could get the same one: Kafka then refuses its config. Another
/// process can still grab the port before the broker binds; callers retry on "address in use".
pub(crate) fn free_port() -> Result<u16, TestkitError> {
    let mut handed = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed = handed.get_or_insert_with(HashSet::new);
    for _ in 0..OFFERS {
        let port = offered_port()?;
        if handed.insert(port) {
            return Ok(port);
        }
    }
    Err(TestkitError::io(
        "finding a free port on 127.0.0.1",
        std::io::Error::other(format!(
            "the kernel offered only ports handed out already, {OFFERS} times"
        )),
    ))
}

/// One port the kernel offers for 127.0.0.1 (bind port 0, read it, release it).
fn offered_port() -> Result<u16, TestkitError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| TestkitError::io("binding 127.0.0.1:0 to find a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| TestkitError::io("reading the port of a bound listener", e))?
        .port();
    Ok(port)
}

#[cfg(test)]
mod tests {
    #[test]
    fn free_port_is_bindable() {
        let port = super::free_port().unwrap();
        assert_ne!(port, 0);
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn free_port_never_repeats_in_a_process() {
        let ports: Vec<u16> = (0..200).map(|_| super::free_port().unwrap()).collect();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len());
    }
}
