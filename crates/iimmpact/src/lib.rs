//! A typed async client of the IIMMPACT v2 API, as `docs/api.md` specifies it
//! and tambah serves it: API key + HMAC v1 signature (or the token flow),
//! balance, product list, topup and the status check by resubmission.
//!
//! Every failure says whether the request can have reached the upstream
//! ([`Error::NotSent`] vs [`Error::Unknown`]) or was refused with nothing
//! stored ([`Error::Rejected`], [`Error::Auth`]); money depends on telling
//! them apart. Money is exact ([`Amount`], RM × 10⁴), never a float.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tambah_iimmpact::Error> {
//! use tambah_iimmpact::{Amount, Client, Config, Credentials, TopupRequest};
//! let credentials = Credentials::ApiKey { key_id: "tbh_test_…".into(), secret: "…".into() };
//! let client = Client::new(Config::new("https://api.iimmpact.com/v2", credentials))?;
//! let order = TopupRequest::new("UID-123", "D", "0123456789", Amount::from_rm(10));
//! let answer = client.topup(&order).await?;
//! println!("{} {} cost {}", answer.status_code, answer.status, answer.cost);
//! # Ok(()) }
//! ```

mod answer;
pub mod body;
mod client;
mod credentials;
mod error;
mod money;
mod pricing;
pub mod signing;
mod topup;
mod wire;

pub use answer::Reply;
pub use client::{Client, Config, ANSWER_MAX_BYTES};
pub use credentials::Credentials;
pub use error::{Error, RejectionCode};
pub use money::{Amount, AmountError};
pub use reqwest::Method;
pub use topup::{Outcome, ResponseShape, TopupRequest, TopupResponse};
pub use wire::{Balance, Product, Tokens};
