//! The monitor model: what a monitor is, apart from where it was written down and how it is
//! checked.
//!
//! This is the bottom layer. It holds plain, validated data: the [`Monitor`] (target, schedule,
//! request settings), its [`Expect`]ations, its failure [`Policy`] and the [`Secret`]s it may
//! carry, with the limits and defaults that belong to them. It imports nothing else of
//! sitewatch: `config` reads and validates files into these types, `probe` checks them, the
//! scheduler and the sinks work from them.

pub mod expect;
pub mod monitor;
pub mod policy;
pub mod secret;
pub mod target;

pub use self::expect::{Expect, StatusPattern, StatusSet};
pub use self::monitor::{Method, Monitor, MAX_HEADER_BYTES, MAX_URL_BYTES};
pub use self::policy::{default_policy, Policy};
pub use self::secret::Secret;
pub use self::target::{Kind, Target};
