//! Notifications: telling people when a monitor goes down, recovers, stays down or flaps, and
//! once a day how the last 24 hours went.
//!
//! Why it is built this way: delivery is slow and unreliable (remote chat services, webhooks that
//! hang, scripts that never exit), and checks must never wait for it. So notifications live on
//! their own threads, fed through bounded channels with `try_send`:
//!
//! ```text
//! scheduler ──Fanout (StateChange, bounded, try_send)──► notifier thread (dispatcher.rs)
//!                                                         │ grouping window, flapping damping,
//!                                                         │ reminders, daily digest
//!                 ┌──────────── try_send, bounded per channel ─────────────┐
//!                 ▼                                                        ▼
//!        delivery thread "ops-slack"  …                           delivery thread "pager"
//!        retries with backoff, then "notification lost: …"        (each its own queue)
//! ```
//!
//! A slow or dead endpoint holds up only its own delivery thread; when that thread's queue is
//! full, further messages for it are dropped and counted as lost, never waited for.
//!
//! Each kind of channel is one file behind the small [`Channel`] trait: [`webhook`] (a JSON
//! document), [`slack`], [`discord`], [`ntfy`] (each service's documented payload) and
//! [`command`] (a program with the event in its environment and on stdin). What is sent is a
//! [`Notification`]: one [`Alert`], a group of alerts, a [`Digest`] or a test message. Its
//! text and JSON renderings live in [`render`], so every channel says the same thing.
//!
//! Shutdown: when the last [`crate::event::Fanout`] is dropped, the notifier sends what it still
//! holds at once (ignoring the grouping window), then closes the delivery queues;
//! [`Notifier::finish`] tells delivery threads to make their remaining retries without waiting,
//! and waits a bounded time for them.

pub mod config;
pub mod digest;

pub use config::{ChannelKind, ChannelSpec, Channels};
pub use digest::{next_digest_at, Digest, DigestSource, DigestTime, Incident, MonitorDigest};
