//! Picking free loopback ports for brokers.

use std::net::{Ipv4Addr, TcpListener};

use crate::TestkitError;

/// Returns a port on 127.0.0.1 that was free a moment ago (bind port 0, read it, release it).
///
/// Another process can still grab it before the broker binds; callers retry on "address in use".
pub(crate) fn free_port() -> Result<u16, TestkitError> {
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
}
