//! Connection buffers that start small and grow only as far as a response needs.
//!
//! Every check opens a fresh connection, and ureq gives each connection (and, for `https`,
//! the TLS layer over it once more) fixed buffers of the configured size, allocated and zeroed
//! when the connection is first used. Sized for the largest response head sitewatch accepts
//! (63 KiB), they were most of the memory of a check in flight and a tenth of its CPU, for
//! responses whose head is a few hundred bytes. [`Lean`], the last link of the connector
//! chain, puts [`Slim`] over the connection: ureq reads the response through Slim's input
//! buffer, which starts at [`START`] bytes and doubles only while a response head does not
//! fit yet, up to the configured maximum head size plus [`SLACK`]. The layers below it (TCP,
//! TLS) are configured with small buffers: they only pass bytes through, in pieces.
//!
//! Guarantees:
//! - bytes pass through in order, none lost or repeated (each is copied once, from the layer
//!   below into Slim's buffer, and taken from below only once it is copied);
//! - a response head larger than `max_response_header_size` is still refused by ureq as too
//!   large, as with fixed buffers: the buffer grows to more than that size before it stops;
//! - memory for the head grows with the head, never beyond `max_response_header_size` +
//!   [`SLACK`]; bodies stream through the buffer (it does not grow for them);
//! - requests are written straight into the output buffer of the layer below, which is the
//!   request's `output_buffer_size` (see `agent::output_buffer`).

use std::fmt;

use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};
use ureq::Error;

/// Size of the input buffer a connection starts with: a typical response head and the
/// first piece of its body fit.
pub(super) const START: usize = 4 * 1024;

/// What the input buffer may hold beyond the largest response head accepted, so that a head
/// that is too large fills more than the limit and is reported as too large, not left waiting
/// for room that never comes (which ureq reports as the peer having disconnected).
pub(super) const SLACK: usize = 1024;

/// Scratch space a request body is read into before it is written (ureq asks for it).
const MIN_TMP: usize = 1024;

/// The connector link that puts [`Slim`] buffers over the connection the chain made.
#[derive(Debug)]
pub(super) struct Lean;

impl<In: Transport> Connector<In> for Lean {
    type Out = Slim<In>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        let max = details
            .config
            .max_response_header_size()
            .saturating_add(SLACK);
        Ok(chained.map(|inner| Slim::new(inner, max)))
    }
}

/// A transport over `T` whose input buffer grows with the response head (see the module).
/// Output goes straight into the buffer of the layer below (sized per request), so a request
/// is neither buffered nor copied twice.
pub(super) struct Slim<T> {
    inner: T,
    input: Growing,
}

impl<T> Slim<T> {
    fn new(inner: T, max_input: usize) -> Slim<T> {
        Slim {
            inner,
            input: Growing::new(max_input),
        }
    }
}

impl<T: Transport> fmt::Debug for Slim<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slim")
            .field("inner", &self.inner)
            .field("input", &self.input.buf.len())
            .finish()
    }
}

impl<T: Transport> Transport for Slim<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        if self.input.room().is_empty() {
            // Full at its largest: ureq sees a head larger than it accepts.
            return Ok(false);
        }
        if !self.inner.maybe_await_input(timeout)? {
            return Ok(false);
        }
        let room = self.input.room();
        let below = self.inner.buffers().input();
        let n = room.len().min(below.len());
        room[..n].copy_from_slice(&below[..n]);
        self.inner.buffers().input_consume(n);
        self.input.appended(n);
        Ok(n > 0)
    }

    /// Never open for reuse: sitewatch opens a fresh connection for every check (the pool
    /// holds none), and ureq asks this only before pooling a connection, which it does by
    /// probing the socket (three system calls) and taking the pool's lock, shared by every
    /// worker. Saying no closes the connection at once instead.
    fn is_open(&mut self) -> bool {
        false
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl<T: Transport> Buffers for Slim<T> {
    fn output(&mut self) -> &mut [u8] {
        self.inner.buffers().output()
    }

    fn input(&self) -> &[u8] {
        self.input.unconsumed()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.input.room()
    }

    fn input_appended(&mut self, amount: usize) {
        self.input.appended(amount);
    }

    fn input_consume(&mut self, amount: usize) {
        self.input.consume(amount);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        (self.input.scratch(), self.inner.buffers().output())
    }

    fn can_use_input(&self) -> bool {
        self.input.usable()
    }
}

/// Input that grows (by doubling, from [`START`] to `max`), allocated on first use.
#[derive(Debug)]
struct Growing {
    buf: Vec<u8>,
    /// `buf[consumed..filled]` is what ureq has not consumed yet.
    filled: usize,
    consumed: usize,
    /// Whether the last consume took anything (ureq's signal that the input is usable as it is).
    progress: bool,
    max: usize,
}

impl Growing {
    fn new(max: usize) -> Growing {
        Growing {
            buf: Vec::new(),
            filled: 0,
            consumed: 0,
            progress: false,
            max: max.max(START),
        }
    }

    fn unconsumed(&self) -> &[u8] {
        &self.buf[self.consumed..self.filled]
    }

    /// Free room at the end, made if it can be: what is unconsumed moves to the front, and
    /// the buffer doubles when it is still full. Empty only when full at its largest.
    fn room(&mut self) -> &mut [u8] {
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
        }
        if self.filled == self.buf.len() {
            if self.consumed > 0 {
                self.buf.copy_within(self.consumed..self.filled, 0);
                self.filled -= self.consumed;
                self.consumed = 0;
            } else {
                let grown = (self.buf.len() * 2).clamp(START, self.max);
                self.buf.resize(grown, 0);
            }
        }
        &mut self.buf[self.filled..]
    }

    /// Room for a request body's piece, at least [`MIN_TMP`] bytes (ureq's scratch space).
    fn scratch(&mut self) -> &mut [u8] {
        self.room();
        if self.buf.len() - self.filled < MIN_TMP {
            self.buf.resize(self.filled + MIN_TMP, 0);
        }
        &mut self.buf[self.filled..]
    }

    fn appended(&mut self, amount: usize) {
        self.filled += amount;
        assert!(self.filled <= self.buf.len());
    }

    fn consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed += amount;
        assert!(self.consumed <= self.filled);
    }

    fn usable(&self) -> bool {
        self.filled > self.consumed && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(b: &mut Growing, bytes: &[u8]) -> usize {
        let room = b.room();
        let n = room.len().min(bytes.len());
        room[..n].copy_from_slice(&bytes[..n]);
        b.appended(n);
        n
    }

    #[test]
    fn input_starts_small_and_grows_only_while_unconsumed_input_fills_it() {
        let mut b = Growing::new(64 * 1024);
        assert!(b.buf.is_empty(), "nothing allocated before use");
        let head = vec![b'h'; 10_000];
        let mut put = 0;
        while put < head.len() {
            put += fill(&mut b, &head[put..]);
            // ureq parses nothing until the whole head is in.
            b.consume(0);
            assert!(!b.usable());
        }
        assert_eq!(b.unconsumed(), &head[..]);
        assert_eq!(b.buf.len(), 16 * 1024, "4 KiB, doubled twice");
        // Consumed input makes room again without growing.
        b.consume(10_000);
        assert_eq!(fill(&mut b, &[1; 20_000]), 16 * 1024);
        assert_eq!(b.buf.len(), 16 * 1024);
    }

    #[test]
    fn unconsumed_bytes_move_to_the_front_in_order() {
        let mut b = Growing::new(64 * 1024);
        let bytes: Vec<u8> = (0..START).map(|i| (i % 251) as u8).collect();
        fill(&mut b, &bytes);
        b.consume(100);
        assert!(b.usable());
        assert_eq!(fill(&mut b, &[7, 8, 9]), 3);
        let mut want = bytes[100..].to_vec();
        want.extend([7, 8, 9]);
        assert_eq!(b.unconsumed(), &want[..]);
        assert_eq!(b.buf.len(), START);
    }

    #[test]
    fn input_stops_growing_past_the_largest_head() {
        let max = 63 * 1024 + SLACK;
        let mut b = Growing::new(max);
        let mut total = 0;
        for _ in 0..100 {
            let n = fill(&mut b, &[b'x'; 8192]);
            b.consume(0);
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, max, "filled to the limit, then no more room");
        assert!(
            b.unconsumed().len() > 63 * 1024,
            "more than the head limit: ureq refuses it"
        );
    }

    #[test]
    fn a_request_body_gets_scratch_space() {
        let mut b = Growing::new(64 * 1024);
        assert!(b.scratch().len() >= MIN_TMP);
    }
}
