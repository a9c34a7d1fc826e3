//! The domain core of tambah: money, identifiers, products and pricing, the order
//! state machine and its status codes. Pure rules: no IO, no clock, no serde.

pub mod catalog;
pub mod chain;
pub mod ids;
pub mod money;
pub mod order;
pub mod roles;
pub mod status;
pub mod time;

pub use catalog::{AccountFormat, Catalog, Denomination, Family, Product};
pub use ids::{
    AccountId, CallbackId, DisputeId, Environment, MerchantId, OrderId, ProviderId, RefId, TransferId, UserId,
};
pub use money::Amount;
pub use order::OrderState;
pub use roles::{Capability, Role};
pub use status::StatusCode;
