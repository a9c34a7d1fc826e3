//! An order's status callback: the topup response body of the order as it
//! was when the callback was queued, in the merchant's API version, as a
//! signed POST (JSON) or GET (URL-encoded, as IIMMPACT's GET callbacks).

use tambah_domain::StatusCode;
use tambah_engine::callbacks;
use tambah_http::wire::{absolutize, order_body, ApiVersion, Shape};
use tambah_store::{CallbackRow, MerchantRow};

use crate::callbacks::{Answer, CallbackSender};

impl CallbackSender {
    pub(crate) async fn deliver_order(&self, cb: &CallbackRow, m: &MerchantRow) -> (String, Answer) {
        let url = m.callback_url.clone();
        if url.is_empty() {
            return (url, Answer::failed("no callback URL is set".into(), false));
        }
        let order = match cb.order_id {
            Some(id) => self.engine.outbox().order(id).await.ok().flatten(),
            None => None,
        };
        let Some(mut order) = order else {
            return (url, Answer::failed("the order is not readable".into(), true));
        };
        absolutize(&mut order.voucherlink, &self.config.public_url);
        let status = cb.status.unwrap_or(StatusCode::PROCESSING);
        let product_name = self.engine.catalog().get(&order.product).map(|p| p.name.clone()).unwrap_or_default();
        let version = ApiVersion::parse(&m.api_version).unwrap_or(ApiVersion::Seed);
        let body = order_body(&order, &product_name, status, cb.balance, Shape::Version(version));
        let secrets = match self.engine.callback_secrets(m.id).await {
            Ok(s) => s,
            Err(e) => return (url, Answer::failed(format!("secrets: {e}"), true)),
        };
        let t = self.engine.now_ms() / 1000;
        let answer = if m.callback_method == "GET" {
            // The response data, URL-encoded, as IIMMPACT's GET callbacks carry it.
            let data = if body.get("data").is_some() { body["data"].clone() } else { body.clone() };
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("refid", &order.refid)
                .append_pair("status", &status.code().to_string())
                // What was charged: nothing for a failed order, as its body says.
                .append_pair("price", &if status.is_failure() { "0.00".to_owned() } else { order.cost.to_cents() })
                .append_pair("message", &data.to_string())
                .finish();
            let full = if url.contains('?') { format!("{url}&{query}") } else { format!("{url}?{query}") };
            let signature = callbacks::signature(&secrets, t, query.as_bytes());
            self.send(&full, reqwest::Method::GET, None, &signature).await
        } else {
            let bytes = body.to_string().into_bytes();
            let signature = callbacks::signature(&secrets, t, &bytes);
            self.send(&url, reqwest::Method::POST, Some(bytes), &signature).await
        };
        (url, answer)
    }
}
