//! The product families that need more than an account and an amount:
//! mobile data plans, PTPTN accounts, JomPAY billers, Zakat, e-SIM plans.
//! Their data is a file (`catalog/families.json`); the staging answers that
//! depend on a phone number or an NRIC are derived from it deterministically,
//! so every developer sees the same thing for the same input.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tambah_domain::catalog::{is_msisdn, is_nric};
use tambah_domain::{Amount, Family, Product, StatusCode};

/// The family data shipped with the binary.
pub const BUILT_IN: &str = include_str!("../../../catalog/families.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    data_plans: BTreeMap<String, PlanSet>,
    ptptn_schemes: Vec<Scheme>,
    jompay_billers: Vec<Biller>,
    zakat: ZakatFile,
    esim: EsimFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanSet {
    dynamic: bool,
    plans: Vec<PlanEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanEntry {
    code: String,
    display_name: String,
    denomination: String,
    validity: String,
    description: String,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Scheme {
    code: String,
    display_name: String,
    description: String,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Biller {
    pub code: String,
    pub name: String,
    pub ref1_label: String,
    pub ref2_label: String,
    /// How sure the code is, from its public source (`high` … `low`, or
    /// `none` for an illustrative entry).
    pub confidence: String,
    /// No public source gives this biller's code: kept for staging and
    /// shown as illustrative, never as real.
    #[serde(default)]
    pub illustrative: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZakatFile {
    types: Vec<ZakatType>,
    bodies: Vec<ZakatBody>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ZakatType {
    code: String,
    name: String,
    description: String,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ZakatBody {
    code: String,
    name: String,
    state: String,
    /// Fitrah per person by tier (by the rice a payer's household eats),
    /// the minimum first.
    fitrah_tiers: Vec<String>,
    /// The year the tiers were published for: older than the current
    /// year means the body's newer rates were not found.
    fitrah_year: u16,
}

/// The year the built-in fitrah rates are for.
const FITRAH_YEAR: u16 = 2026;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EsimFile {
    countries: Vec<Country>,
    plans: BTreeMap<String, Vec<EsimPlanEntry>>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Country {
    pub iso: String,
    pub name: String,
    pub region: String,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct EsimPlanEntry {
    data: String,
    days: u32,
    price: String,
}

/// One choice a product offers (a plan, an account, a biller, a zakat type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subproduct {
    pub code: String,
    pub display_name: String,
    /// The amount to pay, when fixed.
    pub denomination: Option<Amount>,
    pub validity: String,
    pub description: String,
    pub account_number: Option<String>,
    pub min: Option<Amount>,
    pub max: Option<Amount>,
}

#[derive(Clone, Debug)]
struct Plans {
    dynamic: bool,
    list: Vec<Subproduct>,
}

/// All family data, parsed and checked.
#[derive(Clone, Debug)]
pub struct Families {
    data_plans: HashMap<String, Plans>,
    ptptn: Vec<Subproduct>,
    billers: Vec<Biller>,
    zakat: Vec<Subproduct>,
    countries: Vec<Country>,
    esim_plans: HashMap<String, Vec<(String, u32, Amount)>>,
}

/// A purchase refused before anything is stored (HTTP 400 unless said).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: StatusCode,
    pub reason: String,
}

fn refuse(code: StatusCode, reason: impl Into<String>) -> Refusal {
    Refusal { code, reason: reason.into() }
}

/// What the provider needs to know about a family purchase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chosen {
    pub subproduct: Option<Subproduct>,
    /// e-SIM: the plan's validity in days.
    pub days: Option<u32>,
}

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().into()
}

fn money(text: &str, what: &str) -> Result<Amount, String> {
    Amount::parse_rm(text, 2).map_err(|e| format!("{what}: {e}"))
}

/// Zakat amounts accepted for types other than fitrah.
const ZAKAT_MIN: Amount = Amount::from_rm(1);
const ZAKAT_MAX: Amount = Amount::from_rm(100_000);

/// A body's fitrah as one subproduct per tier: `<STATE>-FITRAH` the
/// minimum, `<STATE>-FITRAH-2`, `-3` the higher tiers; each description says
/// the rate and the year it is for.
fn fitrah_tiers(body: &ZakatBody, t: &ZakatType) -> Result<Vec<Subproduct>, String> {
    if body.fitrah_tiers.is_empty() {
        return Err(format!("zakat body {} has no fitrah tiers", body.code));
    }
    let year = if body.fitrah_year >= FITRAH_YEAR {
        format!("{} rate", body.fitrah_year)
    } else {
        format!("{} rate; the {FITRAH_YEAR} rate was not published when this catalogue was made", body.fitrah_year)
    };
    let mut out = Vec::new();
    for (i, text) in body.fitrah_tiers.iter().enumerate() {
        let rate = money(text, &format!("fitrah of {}", body.code))?;
        let (code, tier) = match i {
            0 => (format!("{}-FITRAH", body.code), "minimum".to_owned()),
            _ => (format!("{}-FITRAH-{}", body.code, i + 1), format!("tier {}", i + 1)),
        };
        out.push(Subproduct {
            code,
            display_name: body.name.clone(),
            denomination: Some(rate),
            validity: String::new(),
            description: format!(
                "{} ({}): {}; RM {} per person ({tier}, {year})",
                t.name,
                body.state,
                t.description,
                rate.to_plain()
            ),
            account_number: None,
            min: Some(rate),
            max: Some(ZAKAT_MAX),
        });
    }
    Ok(out)
}

/// What a JomPAY biller asks for, and whether its code is only illustrative.
fn biller_description(b: &Biller) -> String {
    let refs = if b.ref2_label.is_empty() {
        format!("Ref-1: {}", b.ref1_label)
    } else {
        format!("Ref-1: {}; Ref-2: {}", b.ref1_label, b.ref2_label)
    };
    if b.illustrative {
        format!("{refs} (illustrative: no public JomPAY code was found for this biller)")
    } else {
        refs
    }
}

impl Families {
    pub fn parse(json: &str) -> Result<Families, String> {
        let f: File = serde_json::from_str(json).map_err(|e| format!("families: {e}"))?;
        if f.version != 1 {
            return Err(format!("families version {} is not supported", f.version));
        }
        let mut data_plans = HashMap::new();
        for (product, set) in f.data_plans {
            let list = set
                .plans
                .into_iter()
                .map(|p| {
                    Ok(Subproduct {
                        denomination: Some(money(&p.denomination, &format!("plan {}", p.code))?),
                        code: p.code,
                        display_name: p.display_name,
                        validity: p.validity,
                        description: p.description,
                        account_number: None,
                        min: None,
                        max: None,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            data_plans.insert(product, Plans { dynamic: set.dynamic, list });
        }
        let ptptn = f
            .ptptn_schemes
            .into_iter()
            .map(|s| Subproduct {
                code: s.code,
                display_name: s.display_name,
                denomination: None,
                validity: String::new(),
                description: s.description,
                account_number: None,
                min: Some(Amount::from_rm(1)),
                max: Some(Amount::from_rm(10_000)),
            })
            .collect();
        let mut zakat = Vec::new();
        for body in &f.zakat.bodies {
            for t in &f.zakat.types {
                if t.code == "FITRAH" {
                    zakat.extend(fitrah_tiers(body, t)?);
                    continue;
                }
                zakat.push(Subproduct {
                    code: format!("{}-{}", body.code, t.code),
                    display_name: body.name.clone(),
                    denomination: None,
                    validity: String::new(),
                    description: format!("{} ({}): {}", t.name, body.state, t.description),
                    account_number: None,
                    min: Some(ZAKAT_MIN),
                    max: Some(ZAKAT_MAX),
                });
            }
        }
        let mut esim_plans = HashMap::new();
        for (region, plans) in f.esim.plans {
            let list = plans
                .into_iter()
                .map(|p| Ok((p.data, p.days, money(&p.price, "e-SIM plan price")?)))
                .collect::<Result<Vec<_>, String>>()?;
            esim_plans.insert(region, list);
        }
        for c in &f.esim.countries {
            if !esim_plans.contains_key(&c.region) {
                return Err(format!("e-SIM country {} has region {} with no plans", c.iso, c.region));
            }
        }
        Ok(Families { data_plans, ptptn, billers: f.jompay_billers, zakat, countries: f.esim.countries, esim_plans })
    }

    pub fn countries(&self) -> &[Country] {
        &self.countries
    }

    pub fn billers(&self) -> &[Biller] {
        &self.billers
    }

    fn esim_country_plans(&self, iso: &str) -> Option<Vec<(Subproduct, u32)>> {
        let country = self.countries.iter().find(|c| c.iso.eq_ignore_ascii_case(iso))?;
        let plans = self.esim_plans.get(&country.region)?;
        Some(
            plans
                .iter()
                .map(|(data, days, price)| {
                    (
                        Subproduct {
                            code: format!("{}-{}-{}D", country.iso, data.to_ascii_uppercase(), days),
                            display_name: format!("{} {data}", country.name),
                            denomination: Some(*price),
                            validity: format!("{days} day"),
                            description: format!("{data} of data in {} for {days} days", country.name),
                            account_number: None,
                            min: None,
                            max: None,
                        },
                        *days,
                    )
                })
                .collect(),
        )
    }

    /// The number of e-SIM plans of a country.
    pub fn esim_plan_count(&self, country: &Country) -> usize {
        self.esim_plans.get(&country.region).map(Vec::len).unwrap_or(0)
    }

    /// What a product offers for `account_number` (a phone number for
    /// dynamic data plans, an NRIC for PTPTN, a country for e-SIM).
    pub fn subproducts(&self, product: &Product, account_number: Option<&str>) -> Result<Vec<Subproduct>, Refusal> {
        let account_number = account_number.map(str::trim).filter(|a| !a.is_empty());
        match product.family {
            Family::Data => {
                let plans = self
                    .data_plans
                    .get(&product.code)
                    .ok_or_else(|| refuse(StatusCode::INVALID_FORMAT, format!("no plans for {}", product.code)))?;
                if !plans.dynamic {
                    return Ok(plans.list.clone());
                }
                let number = account_number.ok_or_else(|| {
                    refuse(
                        StatusCode::INVALID_FORMAT,
                        format!("{} plans depend on the number: account_number is required", product.code),
                    )
                })?;
                if !is_msisdn(number) {
                    return Err(refuse(
                        StatusCode::INVALID_ACCOUNT,
                        format!("{number:?} is not a Malaysian mobile number"),
                    ));
                }
                Ok(eligible(&product.code, number, &plans.list))
            }
            Family::Ptptn => {
                let nric = account_number.ok_or_else(|| {
                    refuse(StatusCode::INVALID_FORMAT, "account_number (the payer's NRIC) is required")
                })?;
                if !is_nric(nric) {
                    return Err(refuse(StatusCode::INVALID_ACCOUNT, format!("{nric:?} is not an NRIC (12 digits)")));
                }
                Ok(self.ptptn_accounts(nric))
            }
            Family::Jompay => Ok(self
                .billers
                .iter()
                .map(|b| Subproduct {
                    code: b.code.clone(),
                    display_name: b.name.clone(),
                    denomination: None,
                    validity: String::new(),
                    description: biller_description(b),
                    account_number: None,
                    min: Some(Amount::from_rm(1)),
                    max: Some(Amount::from_rm(30_000)),
                })
                .collect()),
            Family::Zakat => Ok(self.zakat.clone()),
            Family::Esim => {
                let iso = account_number.ok_or_else(|| {
                    refuse(StatusCode::INVALID_FORMAT, "account_number (an ISO country code) is required")
                })?;
                let plans = self
                    .esim_country_plans(iso)
                    .ok_or_else(|| refuse(StatusCode::INVALID_FORMAT, format!("no e-SIM plans for country {iso:?}")))?;
                Ok(plans.into_iter().map(|(p, _)| p).collect())
            }
            _ => Err(refuse(StatusCode::INVALID_FORMAT, format!("product {} has no subproducts", product.code))),
        }
    }

    /// The PTPTN accounts of a payer. In staging, NRICs ending in an even
    /// digit have one to three accounts; odd ones have none.
    fn ptptn_accounts(&self, nric: &str) -> Vec<Subproduct> {
        if nric.as_bytes()[11] % 2 == 1 {
            return Vec::new();
        }
        let d = digest(&["ptptn", nric]);
        let wanted = 1 + (d[0] as usize) % 3;
        // The schemes this payer has: the `wanted` ones ranked first by the digest.
        let mut ranked: Vec<usize> = (0..self.ptptn.len()).collect();
        ranked.sort_by_key(|&i| d[1 + i % 31]);
        ranked.truncate(wanted);
        ranked.sort_unstable();
        let mut out = Vec::new();
        for i in ranked {
            let scheme = &self.ptptn[i];
            let h = digest(&["ptptn-account", nric, &scheme.code]);
            let number: String = h.iter().take(10).map(|b| char::from(b'0' + b % 10)).collect();
            let mut s = scheme.clone();
            s.account_number = Some(format!("{}{number}", if scheme.description == "Pinjaman" { "1" } else { "2" }));
            out.push(s);
        }
        out
    }

    /// Checks the family-specific parts of a purchase.
    pub fn check(
        &self,
        product: &Product,
        account: &str,
        amount: Amount,
        extras: &BTreeMap<String, String>,
    ) -> Result<Chosen, Refusal> {
        let purchase = Purchase { product, account, amount, extras };
        match product.family {
            Family::Data => self.check_data(&purchase),
            Family::Ptptn => self.check_ptptn(&purchase),
            Family::Jompay => self.check_jompay(&purchase),
            Family::Zakat => self.check_zakat(&purchase),
            Family::Esim => self.check_esim(&purchase),
            _ => Ok(Chosen::default()),
        }
    }

    /// A data plan: one the number may buy, at its price.
    fn check_data(&self, p: &Purchase<'_>) -> Result<Chosen, Refusal> {
        let code = p.need("subproduct_code")?;
        let plans = self.subproducts(p.product, Some(p.account))?;
        let plan = p.pick(plans, code)?;
        p.fixed_amount(&plan)?;
        Ok(Chosen { subproduct: Some(plan), days: None })
    }

    /// A PTPTN repayment: the account must be one of the payer's, looked up by NRIC.
    fn check_ptptn(&self, p: &Purchase<'_>) -> Result<Chosen, Refusal> {
        let code = p.need("subproduct_code")?;
        let ic = p.need("ic_number")?;
        p.ic_number(true)?;
        let account = p.account;
        let accounts = self.ptptn_accounts(ic);
        let found = accounts.into_iter().find(|s| s.code == code && s.account_number.as_deref() == Some(account));
        let found = found.ok_or_else(|| {
            refuse(
                StatusCode::INVALID_ACCOUNT,
                format!("account {account:?} is not a {code} account of NRIC {ic}: look it up with /v2/subproducts"),
            )
        })?;
        p.bounded(&found)?;
        Ok(Chosen { subproduct: Some(found), days: None })
    }

    /// A JomPAY bill: a known biller, with Ref-2 when the biller asks for one.
    fn check_jompay(&self, p: &Purchase<'_>) -> Result<Chosen, Refusal> {
        let code = p.need("biller_code")?;
        let biller = self.billers.iter().find(|b| b.code == code).ok_or_else(|| {
            refuse(StatusCode::INVALID_FORMAT, format!("extras.biller_code {code:?} is not a JomPAY biller"))
        })?;
        if !biller.ref2_label.is_empty() && p.extra("ref2").is_none() {
            return Err(refuse(
                StatusCode::INVALID_FORMAT,
                format!("extras.ref2 ({}) is required for biller {}", biller.ref2_label, biller.code),
            ));
        }
        p.ic_number(false)?;
        Ok(Chosen::default())
    }

    /// Zakat: a known body and type, the payer's identity, and an amount the
    /// type allows (fitrah is paid per person at the state's rate).
    fn check_zakat(&self, p: &Purchase<'_>) -> Result<Chosen, Refusal> {
        let code = p.need("subproduct_code")?;
        let kind = p.pick(self.zakat.clone(), code)?;
        p.ic_number(true)?;
        p.zakat_payer()?;
        match kind.denomination {
            // Fitrah: the state's rate per person, for one or more persons.
            Some(rate) => {
                if !(p.amount.minor() as u64).is_multiple_of(rate.minor() as u64) || p.amount > ZAKAT_MAX {
                    return Err(refuse(
                        StatusCode::INVALID_DENOMINATION,
                        format!("zakat fitrah is RM {} per person: pay a multiple of it", rate.to_plain()),
                    ));
                }
            }
            None => p.bounded(&kind)?,
        }
        Ok(Chosen { subproduct: Some(kind), days: None })
    }

    /// An e-SIM plan: the code names the country, the plan must be one of its plans.
    fn check_esim(&self, p: &Purchase<'_>) -> Result<Chosen, Refusal> {
        let code = p.need("subproduct_code")?;
        let iso = code.split('-').next().unwrap_or("");
        let plans = self.esim_country_plans(iso).ok_or_else(|| {
            refuse(StatusCode::INVALID_FORMAT, format!("extras.subproduct_code {code:?} is not an e-SIM plan"))
        })?;
        let (plan, days) = plans.into_iter().find(|(plan, _)| plan.code == code).ok_or_else(|| {
            refuse(StatusCode::INVALID_FORMAT, format!("extras.subproduct_code {code:?} is not an e-SIM plan"))
        })?;
        p.fixed_amount(&plan)?;
        Ok(Chosen { subproduct: Some(plan), days: Some(days) })
    }
}

/// One purchase being checked: what every family's check reads.
struct Purchase<'a> {
    product: &'a Product,
    account: &'a str,
    amount: Amount,
    extras: &'a BTreeMap<String, String>,
}

impl<'a> Purchase<'a> {
    /// An extra, trimmed; blank counts as absent.
    fn extra(&self, name: &str) -> Option<&'a str> {
        self.extras.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn need(&self, name: &str) -> Result<&'a str, Refusal> {
        self.extra(name).ok_or_else(|| {
            refuse(StatusCode::INVALID_FORMAT, format!("extras.{name} is required for {}", self.product.code))
        })
    }

    /// `extras.ic_number`, when given, must be an NRIC.
    fn ic_number(&self, required: bool) -> Result<(), Refusal> {
        match self.extra("ic_number") {
            Some(ic) if !is_nric(ic) => Err(refuse(
                StatusCode::INVALID_FORMAT,
                format!("extras.ic_number {ic:?} must be an NRIC: 12 digits, no dashes"),
            )),
            None if required => Err(refuse(
                StatusCode::INVALID_FORMAT,
                format!("extras.ic_number is required for {}", self.product.code),
            )),
            _ => Ok(()),
        }
    }

    /// The zakat payer's name (required) and contact details (optional, but well-formed).
    fn zakat_payer(&self) -> Result<(), Refusal> {
        let name = self.need("name")?;
        if name.chars().count() > 100 {
            return Err(refuse(StatusCode::INVALID_FORMAT, "extras.name is longer than 100 characters"));
        }
        if let Some(email) = self.extra("email") {
            if !email.contains('@') || email.contains(char::is_whitespace) {
                return Err(refuse(
                    StatusCode::INVALID_FORMAT,
                    format!("extras.email {email:?} is not an e-mail address"),
                ));
            }
        }
        if let Some(phone) = self.extra("phone") {
            if !is_msisdn(phone) {
                return Err(refuse(
                    StatusCode::INVALID_FORMAT,
                    format!("extras.phone {phone:?} is not a Malaysian mobile number"),
                ));
            }
        }
        Ok(())
    }

    fn pick(&self, list: Vec<Subproduct>, code: &str) -> Result<Subproduct, Refusal> {
        list.into_iter().find(|s| s.code == code).ok_or_else(|| {
            refuse(
                StatusCode::INVALID_FORMAT,
                format!("extras.subproduct_code {code:?} is not offered by {} for this account", self.product.code),
            )
        })
    }

    /// The amount of a fixed-price subproduct must be its price.
    fn fixed_amount(&self, s: &Subproduct) -> Result<(), Refusal> {
        match s.denomination {
            Some(d) if d != self.amount => Err(refuse(
                StatusCode::INVALID_DENOMINATION,
                format!("amount must be the plan's price {} for {:?}", d.to_plain(), s.code),
            )),
            _ => Ok(()),
        }
    }

    /// The amount must lie within the subproduct's bounds.
    fn bounded(&self, s: &Subproduct) -> Result<(), Refusal> {
        if s.min.is_some_and(|m| self.amount < m) || s.max.is_some_and(|m| self.amount > m) {
            return Err(refuse(
                StatusCode::INVALID_DENOMINATION,
                format!(
                    "amount must be between {} and {} for {:?}",
                    s.min.unwrap_or(Amount::ZERO).to_plain(),
                    s.max.unwrap_or(Amount::ZERO).to_plain(),
                    s.code
                ),
            ));
        }
        Ok(())
    }
}

/// The plans a number may buy: a deterministic subset (never empty).
fn eligible(product: &str, number: &str, plans: &[Subproduct]) -> Vec<Subproduct> {
    let national = match number.strip_prefix("60") {
        Some(rest) => format!("0{rest}"),
        None => number.to_owned(),
    };
    let d = digest(&["plans", product, &national]);
    let mut out: Vec<Subproduct> =
        plans.iter().enumerate().filter(|(i, _)| !d[i % 32].is_multiple_of(4)).map(|(_, p)| p.clone()).collect();
    if out.is_empty() {
        out.extend(plans.first().cloned());
    }
    out
}
