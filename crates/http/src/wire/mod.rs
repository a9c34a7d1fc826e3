//! Wire shapes shared by the resources (and by callback delivery): the two
//! response versions, money as exact JSON numbers, Malaysia-time stamps,
//! request parameters from bodies and query strings, the order body in its
//! three shapes and the settings envelope.

mod envelope;
mod money;
pub mod order;
pub(crate) mod params;
pub(crate) mod query;
mod version;

use tambah_domain::time::MytDateTime;

pub(crate) use envelope::metadata;
pub use money::{money, money_number, unit_price_text};
pub use order::{absolutize, order_body, Shape};
pub use version::ApiVersion;

/// An instant in Malaysia time, for the stamps in bodies.
pub fn myt(ms: i64) -> MytDateTime {
    MytDateTime::from_unix_millis(ms)
}
