//! Open banking, the pure part: the banks Drop can link, consent and payment statuses, payment
//! products and amounts as the Berlin Group NextGenPSD2 1.3.12 document writes them.
//!
//! - [`BankId`], [`Bicfi`], [`BankInfo`] and [`BankDirectory`]: which ASPSPs a user may link
//!   and what each offers; [`BankDirectory::builtin`] holds the three sandbox banks.
//! - [`ConsentStatus`]: Drop's consent status (`bank_accounts.consent_status`), with the one
//!   mapping from the Berlin Group `consentStatus` strings.
//! - [`TransactionStatus`]: the ISO 20022 codes of `transactionStatus`, which are final and
//!   what each means for the payment ([`PaymentOutcome`]).
//! - [`PaymentProduct`]: the products Drop initiates.
//! - [`parse_amount`] and [`format_amount`]: the spec's amount string (`amountValue`,
//!   `-?[0-9]{1,14}(\.[0-9]{1,3})?`, a dot as separator) to and from [`Decimal`], never a float.

use crate::domain::ids::{Bic, BicError};
use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// `TryFrom<&str>` and a `Deserialize` that parse (invalid input fails), `Serialize` as
/// `as_str()`.
macro_rules! str_impls {
    ($ty:ty) => {
        impl TryFrom<&str> for $ty {
            type Error = <$ty as FromStr>::Err;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

/// Drop's identifier of an ASPSP, e.g. `dnb`: 1 to 32 lower-case letters, digits or `-`,
/// starting with a letter or digit. Also the sandbox's path prefix of that bank.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BankId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a bank id is 1 to 32 lower-case letters, digits or '-', not starting with '-'")]
pub struct InvalidBankId;

impl BankId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BankId {
    type Err = InvalidBankId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        let ok = (1..=32).contains(&s.len()) && s.bytes().all(allowed) && !s.starts_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidBankId)
        }
    }
}

str_impls!(BankId);

impl fmt::Display for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BankId({})", self.0)
    }
}

/// A BIC as the spec's `bicfi` allows it: `[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?`, upper
/// case exactly, on top of everything [`Bic`] checks (an assigned ISO 3166-1 country). The
/// spec's pattern excludes `0` and `1` as the 7th character (test BICs) and `O` as the 8th.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bicfi(Bic);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BicfiError {
    #[error(transparent)]
    Bic(#[from] BicError),
    #[error("a BICFI is written in upper case")]
    NotUpperCase,
    #[error("a BICFI's location code does not follow the NextGenPSD2 pattern")]
    Location,
}

impl Bicfi {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn bic(&self) -> &Bic {
        &self.0
    }
}

impl FromStr for Bicfi {
    type Err = BicfiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bic: Bic = s.parse()?;
        if bic.as_str() != s {
            return Err(BicfiError::NotUpperCase);
        }
        let location = bic.location().as_bytes();
        let seventh_ok = location
            .first()
            .is_some_and(|b| b.is_ascii_uppercase() || (b'2'..=b'9').contains(b));
        let eighth_ok = location
            .get(1)
            .is_some_and(|b| (b.is_ascii_uppercase() && *b != b'O') || b.is_ascii_digit());
        if !(seventh_ok && eighth_ok) {
            return Err(BicfiError::Location);
        }
        Ok(Self(bic))
    }
}

str_impls!(Bicfi);

impl fmt::Display for Bicfi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Bicfi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bicfi({})", self.as_str())
    }
}

/// A payment product Drop initiates (`payment-product` in the path; service `payments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentProduct {
    /// SEPA credit transfer: EUR inside the EEA.
    SepaCreditTransfers,
    /// SEPA instant credit transfer.
    InstantSepaCreditTransfers,
    /// Every other corridor; needs the creditor agent (BIC) and address.
    CrossBorderCreditTransfers,
    /// A domestic NOK transfer to a Norwegian account number (an ASPSP-specific product, as
    /// the spec allows: the creditor account is given by its 11-digit BBAN).
    NorwegianDomesticCreditTransfers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a payment product Drop initiates")]
pub struct UnknownPaymentProduct;

impl PaymentProduct {
    pub const ALL: [PaymentProduct; 4] = [
        Self::SepaCreditTransfers,
        Self::InstantSepaCreditTransfers,
        Self::CrossBorderCreditTransfers,
        Self::NorwegianDomesticCreditTransfers,
    ];

    /// The path segment, e.g. `sepa-credit-transfers`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SepaCreditTransfers => "sepa-credit-transfers",
            Self::InstantSepaCreditTransfers => "instant-sepa-credit-transfers",
            Self::CrossBorderCreditTransfers => "cross-border-credit-transfers",
            Self::NorwegianDomesticCreditTransfers => "norwegian-domestic-credit-transfers",
        }
    }
}

impl FromStr for PaymentProduct {
    type Err = UnknownPaymentProduct;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(UnknownPaymentProduct)
    }
}

impl fmt::Display for PaymentProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for PaymentProduct {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An ASPSP a user can link: public register data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BankInfo {
    pub id: BankId,
    pub name: String,
    pub bic: Bicfi,
    /// The payment products it offers.
    pub products: Vec<PaymentProduct>,
    /// Whether its consent and payment initiations answer with `startAuthorisation`, so the
    /// authorisation must be started explicitly before the SCA redirect is known.
    pub explicit_authorisation: bool,
}

impl BankInfo {
    pub fn offers(&self, product: PaymentProduct) -> bool {
        self.products.contains(&product)
    }
}

/// The banks Drop knows, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankDirectory {
    banks: Vec<BankInfo>,
}

impl BankDirectory {
    pub fn new(banks: Vec<BankInfo>) -> Self {
        Self { banks }
    }

    /// The three banks of the project's sandbox bank (DNB, SpareBank 1 and Nordea look-alikes).
    pub fn builtin() -> Self {
        let bank = |id: &str, name: &str, bic: &str, products: &[PaymentProduct], explicit| {
            Some(BankInfo {
                id: id.parse().ok()?,
                name: name.to_owned(),
                bic: bic.parse().ok()?,
                products: products.to_vec(),
                explicit_authorisation: explicit,
            })
        };
        use PaymentProduct as P;
        let all = PaymentProduct::ALL;
        let without_instant = [
            P::SepaCreditTransfers,
            P::CrossBorderCreditTransfers,
            P::NorwegianDomesticCreditTransfers,
        ];
        Self::new(
            [
                bank("dnb", "DNB (sandbox)", "DNBANOKK", &all, false),
                bank(
                    "sparebank1",
                    "SpareBank 1 (sandbox)",
                    "SPRONO22",
                    &without_instant,
                    false,
                ),
                bank("nordea", "Nordea (sandbox)", "NDEANOKK", &all, true),
            ]
            .into_iter()
            .flatten()
            .collect(),
        )
    }

    pub fn get(&self, id: &BankId) -> Option<&BankInfo> {
        self.banks.iter().find(|b| &b.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &BankInfo> {
        self.banks.iter()
    }
}

/// Drop's status of an AIS consent, as `bank_accounts.consent_status` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentStatus {
    /// Not yet authorised by the PSU (also a multi-level consent only partly authorised).
    Received,
    Valid,
    Rejected,
    Expired,
    RevokedByPsu,
    TerminatedByTpp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a consent status")]
pub struct UnknownConsentStatus;

impl ConsentStatus {
    /// The value stored in `bank_accounts.consent_status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Valid => "valid",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::RevokedByPsu => "revoked_by_psu",
            Self::TerminatedByTpp => "terminated_by_tpp",
        }
    }

    /// Reads a stored value.
    pub fn from_db(s: &str) -> Result<Self, UnknownConsentStatus> {
        [
            Self::Received,
            Self::Valid,
            Self::Rejected,
            Self::Expired,
            Self::RevokedByPsu,
            Self::TerminatedByTpp,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or(UnknownConsentStatus)
    }

    /// The one mapping from the Berlin Group `consentStatus` (1.3.12): `partiallyAuthorised`
    /// (multi-level SCA, not every authorisation done) is not yet usable, so it is `Received`.
    pub fn from_berlin_group(s: &str) -> Result<Self, UnknownConsentStatus> {
        match s {
            "received" | "partiallyAuthorised" => Ok(Self::Received),
            "valid" => Ok(Self::Valid),
            "rejected" => Ok(Self::Rejected),
            "expired" => Ok(Self::Expired),
            "revokedByPsu" => Ok(Self::RevokedByPsu),
            "terminatedByTpp" => Ok(Self::TerminatedByTpp),
            _ => Err(UnknownConsentStatus),
        }
    }

    /// Whether account data may be read under it.
    pub fn is_usable(self) -> bool {
        self == Self::Valid
    }

    /// Whether it can never become valid again (a new consent is needed).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Received | Self::Valid)
    }
}

impl fmt::Display for ConsentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a payment's bank status means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentOutcome {
    /// Settled (ACSC, ACCC): final.
    Completed,
    /// Rejected by the bank, or SCA never finished (RJCT): final.
    Failed,
    /// Cancelled before execution (CANC): final; no money moved.
    Cancelled,
    /// Anything else: never shown as sent.
    InProgress,
}

/// ISO 20022 payment status codes, as `transactionStatus` carries them (all 14 of 1.3.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// AcceptedSettlementCompleted (creditor side).
    Accc,
    /// AcceptedCustomerProfile.
    Accp,
    /// AcceptedSettlementCompleted (debtor side).
    Acsc,
    /// AcceptedSettlementInProcess.
    Acsp,
    /// AcceptedTechnicalValidation.
    Actc,
    /// AcceptedWithChange.
    Acwc,
    /// AcceptedWithoutPosting.
    Acwp,
    /// Received.
    Rcvd,
    /// Pending.
    Pdng,
    /// Rejected.
    Rjct,
    /// Cancelled.
    Canc,
    /// AcceptedFundsChecked.
    Acfc,
    /// PartiallyAcceptedTechnicalCorrect (multi-level SCA).
    Patc,
    /// PartiallyAccepted (bulk payments).
    Part,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO 20022 transaction status code")]
pub struct UnknownTransactionStatus;

impl TransactionStatus {
    pub const ALL: [TransactionStatus; 14] = [
        Self::Accc,
        Self::Accp,
        Self::Acsc,
        Self::Acsp,
        Self::Actc,
        Self::Acwc,
        Self::Acwp,
        Self::Rcvd,
        Self::Pdng,
        Self::Rjct,
        Self::Canc,
        Self::Acfc,
        Self::Patc,
        Self::Part,
    ];

    /// The four-letter code, e.g. `ACSC`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Accc => "ACCC",
            Self::Accp => "ACCP",
            Self::Acsc => "ACSC",
            Self::Acsp => "ACSP",
            Self::Actc => "ACTC",
            Self::Acwc => "ACWC",
            Self::Acwp => "ACWP",
            Self::Rcvd => "RCVD",
            Self::Pdng => "PDNG",
            Self::Rjct => "RJCT",
            Self::Canc => "CANC",
            Self::Acfc => "ACFC",
            Self::Patc => "PATC",
            Self::Part => "PART",
        }
    }

    /// Only ACSC, ACCC, RJCT and CANC are final: a later update never moves them.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Acsc | Self::Accc | Self::Rjct | Self::Canc)
    }

    pub fn outcome(self) -> PaymentOutcome {
        match self {
            Self::Acsc | Self::Accc => PaymentOutcome::Completed,
            Self::Rjct => PaymentOutcome::Failed,
            Self::Canc => PaymentOutcome::Cancelled,
            _ => PaymentOutcome::InProgress,
        }
    }
}

impl FromStr for TransactionStatus {
    type Err = UnknownTransactionStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.code() == s)
            .ok_or(UnknownTransactionStatus)
    }
}

impl fmt::Display for TransactionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an amount cannot be written as, or read from, the spec's amount string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("an amount is an optional '-', 1 to 14 digits and at most 3 decimals after a dot")]
    Format,
    #[error("an amount has at most 14 digits before the decimal point")]
    TooLarge,
    #[error("an amount has at most 3 decimals")]
    TooManyDecimals,
}

const MAX_INTEGER_DIGITS: usize = 14;
const MAX_DECIMALS: u32 = 3;

/// Reads the spec's amount string: `-?[0-9]{1,14}(\.[0-9]{1,3})?`, whole (no exponent, no
/// `+`, no spaces, no comma).
pub fn parse_amount(text: &str) -> Result<Decimal, AmountError> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits =
        |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int, MAX_INTEGER_DIGITS) || frac.is_some_and(|f| !digits(f, MAX_DECIMALS as usize)) {
        return Err(AmountError::Format);
    }
    Decimal::from_str(text).map_err(|_| AmountError::Format)
}

/// Writes an amount as the spec's amount string, keeping its scale (`12.50` stays `12.50`);
/// zeros beyond 3 decimals are dropped, other digits there refused, never rounded.
pub fn format_amount(amount: Decimal) -> Result<String, AmountError> {
    let mut amount = amount;
    if amount.scale() > MAX_DECIMALS {
        let normalized = amount.normalize();
        if normalized.scale() > MAX_DECIMALS {
            return Err(AmountError::TooManyDecimals);
        }
        amount.rescale(MAX_DECIMALS);
    }
    if amount.trunc().abs().to_string().len() > MAX_INTEGER_DIGITS {
        return Err(AmountError::TooLarge);
    }
    let text = amount.to_string();
    // Decimal writes what the pattern allows; checked, so the contract holds by construction.
    parse_amount(&text).map(|_| text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn bank_ids_are_short_lower_case_slugs() {
        for ok in ["dnb", "sparebank1", "nordea", "a", "bank-2"] {
            assert_eq!(ok.parse::<BankId>().unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "DNB",
            "-dnb",
            "dn b",
            "dnb/x",
            "dnb.",
            &"a".repeat(33),
            "æøå",
        ] {
            assert_eq!(bad.parse::<BankId>(), Err(InvalidBankId), "{bad:?}");
        }
        let id: BankId = serde_json::from_str("\"dnb\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"dnb\"");
        assert!(serde_json::from_str::<BankId>("\"../x\"").is_err());
    }

    #[test]
    fn bicfi_follows_the_spec_pattern() {
        // [A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?
        for ok in [
            "DNBANOKK",
            "SPRONO22",
            "NDEANOKK",
            "AAAADEBBXXX",
            "DEUTDEFF500",
            "ABCDNO2A",
        ] {
            assert_eq!(ok.parse::<Bicfi>().unwrap().as_str(), ok, "{ok}");
        }
        for (bad, why) in [
            ("DNBANO0K", BicfiError::Location), // 7th character 0
            ("DNBANO1K", BicfiError::Location), // 7th character 1
            ("DNBANOKO", BicfiError::Location), // 8th character O
            ("dnbanokk", BicfiError::NotUpperCase),
            (" DNBANOKK", BicfiError::NotUpperCase),
            (
                "DNBANOK",
                BicfiError::Bic(BicError::WrongLength { found: 7 }),
            ),
            ("DNBAXXKK", BicfiError::Bic(BicError::Country)),
        ] {
            assert_eq!(bad.parse::<Bicfi>(), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn the_builtin_directory_is_the_three_sandbox_banks() {
        let dir = BankDirectory::builtin();
        let ids: Vec<_> = dir.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["dnb", "sparebank1", "nordea"]);
        let get = |id: &str| dir.get(&id.parse().unwrap()).unwrap();
        assert_eq!(get("dnb").bic.as_str(), "DNBANOKK");
        assert_eq!(get("sparebank1").bic.as_str(), "SPRONO22");
        assert_eq!(get("nordea").bic.as_str(), "NDEANOKK");
        assert!(get("nordea").explicit_authorisation);
        assert!(!get("dnb").explicit_authorisation && !get("sparebank1").explicit_authorisation);
        for product in PaymentProduct::ALL {
            assert!(get("dnb").offers(product), "{product}");
        }
        assert!(!get("sparebank1").offers(PaymentProduct::InstantSepaCreditTransfers));
        assert!(get("sparebank1").offers(PaymentProduct::NorwegianDomesticCreditTransfers));
        assert!(dir.get(&"handelsbanken".parse().unwrap()).is_none());
        assert_eq!(
            serde_json::to_value(get("sparebank1")).unwrap(),
            serde_json::json!({
                "id": "sparebank1",
                "name": "SpareBank 1 (sandbox)",
                "bic": "SPRONO22",
                "products": [
                    "sepa-credit-transfers",
                    "cross-border-credit-transfers",
                    "norwegian-domestic-credit-transfers"
                ],
                "explicitAuthorisation": false
            })
        );
    }

    #[test]
    fn every_berlin_group_consent_status_maps_onto_ours() {
        use ConsentStatus::*;
        for (bg, ours, stored) in [
            ("received", Received, "received"),
            ("partiallyAuthorised", Received, "received"),
            ("valid", Valid, "valid"),
            ("rejected", Rejected, "rejected"),
            ("expired", Expired, "expired"),
            ("revokedByPsu", RevokedByPsu, "revoked_by_psu"),
            ("terminatedByTpp", TerminatedByTpp, "terminated_by_tpp"),
        ] {
            let status = ConsentStatus::from_berlin_group(bg).unwrap();
            assert_eq!(status, ours, "{bg}");
            assert_eq!(status.as_str(), stored);
            assert_eq!(ConsentStatus::from_db(stored), Ok(ours));
        }
        for bad in ["", "Valid", "revoked_by_psu", "authorised"] {
            assert_eq!(
                ConsentStatus::from_berlin_group(bad),
                Err(UnknownConsentStatus),
                "{bad}"
            );
        }
        assert!(Valid.is_usable() && !Received.is_usable() && !Expired.is_usable());
        assert!(!Received.is_final() && !Valid.is_final());
        assert!(Rejected.is_final() && Expired.is_final() && RevokedByPsu.is_final());
        assert!(TerminatedByTpp.is_final());
    }

    /// The values the migration's CHECK constraint allows, read from the migration itself.
    #[test]
    fn stored_consent_statuses_are_the_ones_the_table_allows() {
        let sql = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../migrations/0003_payments.sql"
        ));
        let check = sql
            .split("bank_accounts_consent_status_known CHECK (consent_status IN (")
            .nth(1)
            .and_then(|rest| rest.split("))").next())
            .unwrap();
        let allowed: Vec<&str> = check
            .split(',')
            .map(|v| v.trim().trim_matches('\''))
            .collect();
        assert_eq!(
            allowed,
            [
                "received",
                "valid",
                "rejected",
                "expired",
                "revoked_by_psu",
                "terminated_by_tpp"
            ]
        );
        for value in allowed {
            assert_eq!(ConsentStatus::from_db(value).unwrap().as_str(), value);
        }
    }

    #[test]
    fn transaction_statuses_final_and_outcome() {
        use PaymentOutcome::*;
        use TransactionStatus as T;
        let table = [
            ("RCVD", false, InProgress),
            ("PDNG", false, InProgress),
            ("ACTC", false, InProgress),
            ("ACCP", false, InProgress),
            ("ACFC", false, InProgress),
            ("ACSP", false, InProgress),
            ("ACWC", false, InProgress),
            ("ACWP", false, InProgress),
            ("PATC", false, InProgress),
            ("PART", false, InProgress),
            ("ACSC", true, Completed),
            ("ACCC", true, Completed),
            ("RJCT", true, Failed),
            ("CANC", true, Cancelled),
        ];
        assert_eq!(table.len(), T::ALL.len());
        for (code, is_final, outcome) in table {
            let status: T = code.parse().unwrap();
            assert_eq!(status.code(), code);
            assert_eq!(status.is_final(), is_final, "{code}");
            assert_eq!(status.outcome(), outcome, "{code}");
        }
        for bad in ["", "acsc", "ACSCX", "DONE"] {
            assert_eq!(bad.parse::<T>(), Err(UnknownTransactionStatus), "{bad}");
        }
    }

    #[test]
    fn payment_products_are_path_segments() {
        use PaymentProduct as P;
        for (product, segment) in [
            (P::SepaCreditTransfers, "sepa-credit-transfers"),
            (
                P::InstantSepaCreditTransfers,
                "instant-sepa-credit-transfers",
            ),
            (
                P::CrossBorderCreditTransfers,
                "cross-border-credit-transfers",
            ),
            (
                P::NorwegianDomesticCreditTransfers,
                "norwegian-domestic-credit-transfers",
            ),
        ] {
            assert_eq!(product.as_str(), segment);
            assert_eq!(segment.parse::<P>(), Ok(product));
        }
        assert_eq!("target-2-payments".parse::<P>(), Err(UnknownPaymentProduct));
        assert_eq!(
            "pain.001-sepa-credit-transfers".parse::<P>(),
            Err(UnknownPaymentProduct)
        );
    }

    #[test]
    fn amounts_are_read_as_the_spec_writes_them() {
        for (text, value) in [
            ("123", dec!(123)),
            ("12345.67", dec!(12345.67)),
            ("0.5", dec!(0.5)),
            ("-1.25", dec!(-1.25)),
            ("1.999", dec!(1.999)),
            ("99999999999999.999", dec!(99999999999999.999)),
            ("007", dec!(7)),
        ] {
            assert_eq!(parse_amount(text), Ok(value), "{text}");
        }
        for bad in [
            "",
            "-",
            ".5",
            "5.",
            "1.2345",
            "1,5",
            "1e3",
            "+5",
            " 5",
            "5 ",
            "--5",
            "0x10",
            "NaN",
            "1.2.3",
            "123456789012345",
            "١٢",
        ] {
            assert_eq!(parse_amount(bad), Err(AmountError::Format), "{bad:?}");
        }
    }

    #[test]
    fn amounts_are_written_as_the_spec_allows() {
        assert_eq!(format_amount(dec!(12345.67)).unwrap(), "12345.67");
        assert_eq!(format_amount(dec!(1500.00)).unwrap(), "1500.00");
        assert_eq!(format_amount(dec!(7)).unwrap(), "7");
        assert_eq!(format_amount(dec!(-0.5)).unwrap(), "-0.5");
        assert_eq!(format_amount(dec!(1.50000)).unwrap(), "1.500");
        assert_eq!(
            format_amount(dec!(1.0001)),
            Err(AmountError::TooManyDecimals)
        );
        assert_eq!(
            format_amount(dec!(123456789012345)),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            format_amount(dec!(99999999999999.99)).unwrap(),
            "99999999999999.99"
        );
    }

    proptest! {
        #[test]
        fn any_amount_the_pattern_allows_round_trips(
            negative in any::<bool>(),
            int in 0u64..100_000_000_000_000,
            frac in prop::option::of(0u32..1000),
            digits in 1usize..=3,
        ) {
            let frac = frac.map(|f| format!("{:03}", f)[..digits].to_owned());
            let text = format!(
                "{}{int}{}",
                if negative { "-" } else { "" },
                frac.map(|f| format!(".{f}")).unwrap_or_default()
            );
            let value = parse_amount(&text).unwrap();
            let written = format_amount(value).unwrap();
            prop_assert_eq!(parse_amount(&written).unwrap(), value);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = parse_amount(&s);
        }
    }
}
