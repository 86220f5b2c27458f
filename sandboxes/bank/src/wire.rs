//! What TPPs send: the consent and payment bodies of the spec (`consents`,
//! `paymentInitiation_json`), read with serde and then checked as a bank would check them.
//! A body that is not what the spec (or the product) asks for is refused with the reason,
//! which becomes a 400 `FORMAT_ERROR`.

use crate::banks::Product;
use crate::clock;
use crate::numbers::{
    is_bic, is_iban, is_norwegian_bban, is_upper_code, parse_amount, two_decimals,
};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Reads a JSON body into `T`, or says where and why it does not fit.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        if path == "." {
            format!("The body is not valid: {}", err.inner())
        } else {
            format!("The body is not valid at {path}: {}", err.inner())
        }
    })?;
    deserializer
        .end()
        .map_err(|err| format!("The body is not valid: {err}"))?;
    Ok(value)
}

/// `accountReference`: an account by IBAN, BBAN or a proprietary id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bban: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<OtherAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cash_account_type: Option<String>,
}

/// `otherType`: a proprietary account identification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OtherAccount {
    pub identification: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme_name_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme_name_proprietary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

impl AccountReference {
    pub(crate) fn by_iban(iban: &str) -> Self {
        Self {
            iban: Some(iban.to_owned()),
            ..Self::default()
        }
    }

    /// Checks the identifiers that are there; `what` names the field in messages.
    fn check(&self, what: &str) -> Result<(), String> {
        if let Some(iban) = &self.iban {
            if !is_iban(iban) {
                return Err(format!("{what}.iban is not a valid IBAN"));
            }
        }
        if let Some(bban) = &self.bban {
            let shape =
                (1..=30).contains(&bban.len()) && bban.bytes().all(|b| b.is_ascii_alphanumeric());
            if !shape {
                return Err(format!("{what}.bban is not a valid BBAN"));
            }
        }
        if let Some(other) = &self.other {
            if other.identification.is_empty() || other.identification.chars().count() > 35 {
                return Err(format!(
                    "{what}.other.identification must have 1 to 35 characters"
                ));
            }
        }
        if let Some(currency) = &self.currency {
            if !is_upper_code(currency, 3) {
                return Err(format!("{what}.currency is not an ISO 4217 code"));
            }
        }
        if self.iban.is_none() && self.bban.is_none() && self.other.is_none() {
            return Err(format!("{what} names no account (iban, bban or other)"));
        }
        Ok(())
    }

    /// A Norwegian account of this bank: a `NO` IBAN or an 11-digit account number.
    fn check_norwegian(&self, what: &str) -> Result<(), String> {
        self.check(what)?;
        let iban_ok = self.iban.as_deref().is_some_and(|i| i.starts_with("NO"));
        let bban_ok = self.bban.as_deref().is_some_and(is_norwegian_bban);
        if iban_ok || bban_ok {
            Ok(())
        } else {
            Err(format!(
                "{what} must be a Norwegian account (a NO IBAN or an 11-digit account number)"
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AIS: `consents`

/// `accountAccess`, as requested.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Access {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances: Option<Vec<AccountReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<AccountReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_accounts: Option<AllAccounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_accounts_with_balance: Option<AllAccounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_psd2: Option<AllAccounts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum AllAccounts {
    AllAccounts,
    AllAccountsWithOwnerName,
}

/// What a consent lets the TPP read once the PSU has authorised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every account of the PSU ("bank-offered": the arrays were empty, or a global request).
    All,
    /// The PSU's accounts among those the request names.
    Named,
    /// Nothing of this kind.
    Nothing,
}

impl Access {
    fn check(&self) -> Result<(), String> {
        let lists = [&self.accounts, &self.balances, &self.transactions];
        let global = [
            self.available_accounts,
            self.available_accounts_with_balance,
            self.all_psd2,
        ];
        let any_list = lists.iter().any(|l| l.is_some());
        let global_count = global.iter().filter(|g| g.is_some()).count();
        let empty = lists.iter().any(|l| l.as_ref().is_some_and(Vec::is_empty));
        let named = lists
            .iter()
            .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()));
        if !any_list && global_count == 0 {
            return Err("access asks for nothing".into());
        }
        if global_count > 1 || (global_count == 1 && named) {
            return Err(
                "access: availableAccounts, availableAccountsWithBalance and allPsd2 \
                 exclude each other and named accounts"
                    .into(),
            );
        }
        if empty && named {
            return Err(
                "access: when one of accounts, balances and transactions is empty, \
                 the others must be empty too"
                    .into(),
            );
        }
        for (name, list) in [
            ("accounts", &self.accounts),
            ("balances", &self.balances),
            ("transactions", &self.transactions),
        ] {
            for (i, reference) in list.iter().flatten().enumerate() {
                reference.check(&format!("access.{name}[{i}]"))?;
                if reference.iban.is_none() && reference.bban.is_none() {
                    return Err(format!("access.{name}[{i}] must name an iban or a bban"));
                }
            }
        }
        Ok(())
    }

    /// Which accounts the account list may show (an account named for balances or
    /// transactions is listed too).
    pub(crate) fn account_scope(&self) -> Scope {
        let lists = [&self.accounts, &self.balances, &self.transactions];
        if self.available_accounts.is_some()
            || self.available_accounts_with_balance.is_some()
            || self.all_psd2.is_some()
            || lists.iter().any(|l| l.as_ref().is_some_and(Vec::is_empty))
        {
            Scope::All
        } else if lists.iter().any(|l| l.is_some()) {
            Scope::Named
        } else {
            Scope::Nothing
        }
    }

    /// Which accounts' balances may be read.
    pub(crate) fn balance_scope(&self) -> Scope {
        if self.available_accounts_with_balance.is_some() || self.all_psd2.is_some() {
            return Scope::All;
        }
        match &self.balances {
            Some(list) if list.is_empty() => Scope::All,
            Some(_) => Scope::Named,
            None => Scope::Nothing,
        }
    }

    /// Whether the request names the account (by IBAN or BBAN) in any list, or in `balances`.
    pub(crate) fn names(&self, iban: &str, bban: &str, balances_only: bool) -> bool {
        let lists: &[&Option<Vec<AccountReference>>] = if balances_only {
            &[&self.balances]
        } else {
            &[&self.accounts, &self.balances, &self.transactions]
        };
        lists
            .iter()
            .copied()
            .flatten()
            .flatten()
            .any(|r| r.iban.as_deref() == Some(iban) || r.bban.as_deref() == Some(bban))
    }

    /// Whether the PSU's account (`iban`, `bban`) goes into the account list and whether its
    /// balances may be read, once authorised.
    pub(crate) fn grants(&self, iban: &str, bban: &str) -> (bool, bool) {
        let granted = |scope, balances_only| match scope {
            Scope::All => true,
            Scope::Named => self.names(iban, bban, balances_only),
            Scope::Nothing => false,
        };
        (
            granted(self.account_scope(), false),
            granted(self.balance_scope(), true),
        )
    }
}

/// The body of `POST /v1/consents` (`consents`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConsentRequest {
    pub access: Access,
    pub recurring_indicator: bool,
    pub valid_until: String,
    pub frequency_per_day: i64,
    pub combined_service_indicator: bool,
}

/// A consent request that passed every check.
#[derive(Debug)]
pub(crate) struct CheckedConsent {
    pub access: Access,
    pub recurring: bool,
    pub valid_until: time::Date,
    pub frequency_per_day: u32,
    pub combined: bool,
}

/// Why a consent request is refused: its shape, or a `validUntil` in the past.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConsentProblem {
    Format(String),
    PeriodInvalid(String),
}

/// The most background reads per day the sandbox grants (the spec's limit unless agreed
/// otherwise).
pub(crate) const MAX_FREQUENCY_PER_DAY: u32 = 4;

impl ConsentRequest {
    /// Checks the request against `today`; the granted `validUntil` is at most `max_days`
    /// ahead.
    pub(crate) fn check(
        self,
        today: time::Date,
        max_days: i64,
    ) -> Result<CheckedConsent, ConsentProblem> {
        self.access.check().map_err(ConsentProblem::Format)?;
        let requested = clock::parse_date(&self.valid_until).ok_or_else(|| {
            ConsentProblem::Format("validUntil is not an ISO date (YYYY-MM-DD)".into())
        })?;
        if requested < today {
            return Err(ConsentProblem::PeriodInvalid(
                "validUntil lies in the past".into(),
            ));
        }
        let latest = today.saturating_add(time::Duration::days(max_days));
        let frequency = u32::try_from(self.frequency_per_day)
            .ok()
            .filter(|f| *f >= 1)
            .ok_or_else(|| ConsentProblem::Format("frequencyPerDay must be at least 1".into()))?;
        Ok(CheckedConsent {
            access: self.access,
            recurring: self.recurring_indicator,
            valid_until: requested.min(latest),
            frequency_per_day: frequency.min(MAX_FREQUENCY_PER_DAY),
            combined: self.combined_service_indicator,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// PIS: `paymentInitiation_json`

/// `amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Amount {
    pub currency: String,
    pub amount: String,
}

impl Amount {
    pub(crate) fn nok(amount: Decimal) -> Self {
        Self {
            currency: "NOK".into(),
            amount: two_decimals(amount),
        }
    }
}

/// `address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_code: Option<String>,
    pub country: String,
}

/// The body of `POST /v1/payments/{product}`, as kept and shown back by `GET`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end_identification: Option<String>,
    pub debtor_account: AccountReference,
    pub instructed_amount: Amount,
    pub creditor_account: AccountReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creditor_agent: Option<String>,
    pub creditor_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creditor_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_bearer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remittance_information_unstructured: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_execution_date: Option<String>,
}

/// The fees a cross-border payment carries (`transactionFees`, `currencyConversionFee`,
/// `estimatedTotalAmount`), all in NOK, the debtor account's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Fees {
    pub transaction_fees: Amount,
    pub currency_conversion_fee: Amount,
    pub estimated_total_amount: Amount,
}

/// The flat fee of a cross-border payment: NOK 25.00.
pub(crate) const CROSS_BORDER_FEE: Decimal = Decimal::from_parts(2500, 0, 0, false, 2);
/// The currency conversion fee: 0.5 % of the amount (in NOK).
pub(crate) const CONVERSION_FEE_RATE: Decimal = Decimal::from_parts(5, 0, 0, false, 3);

/// The sandbox's own fixed rates (NOK per unit; not market rates) and each currency's decimals,
/// for the currencies a cross-border payment may be in.
const RATES: [(&str, i64, u32, u32); 17] = [
    // (currency, NOK per unit × 10^scale, scale, decimals allowed in an amount)
    ("NOK", 1, 0, 2),
    ("EUR", 1150, 2, 2),
    ("USD", 1060, 2, 2),
    ("GBP", 1340, 2, 2),
    ("SEK", 98, 2, 2),
    ("DKK", 154, 2, 2),
    ("PLN", 268, 2, 2),
    ("CHF", 1210, 2, 2),
    ("INR", 127, 3, 2),
    ("PKR", 38, 3, 2),
    ("PHP", 185, 3, 2),
    ("NGN", 68, 4, 2),
    ("KES", 82, 3, 2),
    ("LKR", 35, 3, 2),
    ("THB", 30, 2, 2),
    ("TRY", 31, 2, 2),
    ("VND", 42, 5, 0),
];

fn rate(currency: &str) -> Option<(Decimal, u32)> {
    RATES
        .iter()
        .find(|(code, ..)| *code == currency)
        .map(|(_, units, scale, decimals)| (Decimal::new(*units, *scale), *decimals))
}

/// A payment request that passed every check, with its amount and (cross-border) fees.
#[derive(Debug)]
pub(crate) struct CheckedPayment {
    pub request: PaymentRequest,
    pub fees: Option<Fees>,
}

fn max_chars(value: Option<&String>, max: usize, what: &str) -> Result<(), String> {
    match value {
        Some(value) if value.chars().count() > max => {
            Err(format!("{what} is longer than {max} characters"))
        }
        _ => Ok(()),
    }
}

impl PaymentRequest {
    /// Checks the request as `product` requires.
    pub(crate) fn check(self, product: Product) -> Result<CheckedPayment, String> {
        let amount = &self.instructed_amount;
        if !is_upper_code(&amount.currency, 3) {
            return Err("instructedAmount.currency is not an ISO 4217 code".into());
        }
        let (value, decimals) = parse_amount(&amount.amount).ok_or_else(|| {
            "instructedAmount.amount is not an amount (digits, a dot and at most 3 decimals)"
                .to_owned()
        })?;
        if value <= Decimal::ZERO {
            return Err("instructedAmount.amount must be more than zero".into());
        }
        self.debtor_account.check_norwegian("debtorAccount")?;
        self.creditor_account.check("creditorAccount")?;
        let name_length = self.creditor_name.chars().count();
        if name_length == 0 || name_length > 70 {
            return Err("creditorName must have 1 to 70 characters".into());
        }
        max_chars(
            self.end_to_end_identification.as_ref(),
            35,
            "endToEndIdentification",
        )?;
        max_chars(
            self.remittance_information_unstructured.as_ref(),
            140,
            "remittanceInformationUnstructured",
        )?;
        if let Some(agent) = &self.creditor_agent {
            if !is_bic(agent) {
                return Err("creditorAgent is not a BIC".into());
            }
        }
        if let Some(address) = &self.creditor_address {
            if !is_upper_code(&address.country, 2) {
                return Err("creditorAddress.country is not an ISO 3166 code".into());
            }
            max_chars(
                address.street_name.as_ref(),
                70,
                "creditorAddress.streetName",
            )?;
        }
        if let Some(bearer) = &self.charge_bearer {
            if !["DEBT", "CRED", "SHAR", "SLEV"].contains(&bearer.as_str()) {
                return Err("chargeBearer must be DEBT, CRED, SHAR or SLEV".into());
            }
        }
        if let Some(date) = &self.requested_execution_date {
            if clock::parse_date(date).is_none() {
                return Err("requestedExecutionDate is not an ISO date (YYYY-MM-DD)".into());
            }
        }
        let fees = match product {
            Product::Sepa | Product::InstantSepa => {
                if amount.currency != "EUR" {
                    return Err(format!("{} are in EUR only", product.as_str()));
                }
                if decimals > 2 {
                    return Err("instructedAmount.amount has more than 2 decimals".into());
                }
                if self.creditor_account.iban.is_none() {
                    return Err(format!("{} need creditorAccount.iban", product.as_str()));
                }
                None
            }
            Product::NorwegianDomestic => {
                if amount.currency != "NOK" {
                    return Err(format!("{} are in NOK only", product.as_str()));
                }
                if decimals > 2 {
                    return Err("instructedAmount.amount has more than 2 decimals".into());
                }
                if !self
                    .creditor_account
                    .bban
                    .as_deref()
                    .is_some_and(is_norwegian_bban)
                {
                    return Err(format!(
                        "{} need creditorAccount.bban, an 11-digit Norwegian account number",
                        product.as_str()
                    ));
                }
                None
            }
            Product::CrossBorder => {
                if self.creditor_agent.is_none() {
                    return Err("cross-border-credit-transfers need creditorAgent (the BIC)".into());
                }
                if self.creditor_address.is_none() {
                    return Err(
                        "cross-border-credit-transfers need creditorAddress with its country"
                            .into(),
                    );
                }
                let (rate, allowed) = rate(&amount.currency).ok_or_else(|| {
                    format!(
                        "the sandbox has no rate for {}; it takes {}",
                        amount.currency,
                        RATES.map(|r| r.0).join(", ")
                    )
                })?;
                if decimals > allowed {
                    return Err(format!(
                        "instructedAmount.amount has more than {allowed} decimals"
                    ));
                }
                Some(cross_border_fees(value, rate))
            }
        };
        Ok(CheckedPayment {
            request: self,
            fees,
        })
    }
}

/// The fees of a cross-border payment of `amount` at `rate` NOK per unit: NOK 25.00 flat,
/// 0.5 % of the amount in NOK for the conversion, and the total the debtor account is charged.
fn cross_border_fees(amount: Decimal, rate: Decimal) -> Fees {
    let in_nok = (amount * rate)
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let conversion = (in_nok * CONVERSION_FEE_RATE)
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    Fees {
        transaction_fees: Amount::nok(CROSS_BORDER_FEE),
        currency_conversion_fee: Amount::nok(conversion),
        estimated_total_amount: Amount::nok(in_nok + CROSS_BORDER_FEE + conversion),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn consent(body: serde_json::Value) -> Result<CheckedConsent, ConsentProblem> {
        parse::<ConsentRequest>(body.to_string().as_bytes())
            .map_err(ConsentProblem::Format)?
            .check(date!(2025 - 03 - 01), 180)
    }

    fn bank_offered() -> serde_json::Value {
        json!({
            "access": {"accounts": [], "balances": []},
            "recurringIndicator": true,
            "validUntil": "2025-06-01",
            "frequencyPerDay": 4,
            "combinedServiceIndicator": false
        })
    }

    #[test]
    fn consents() {
        let granted = consent(bank_offered()).unwrap();
        assert_eq!(granted.valid_until, date!(2025 - 06 - 01));
        assert_eq!(granted.frequency_per_day, 4);
        assert_eq!(granted.access.account_scope(), Scope::All);
        assert_eq!(granted.access.balance_scope(), Scope::All);

        let mut far = bank_offered();
        far["validUntil"] = json!("9999-12-31");
        far["frequencyPerDay"] = json!(10);
        let capped = consent(far).unwrap();
        // 2025-03-01 + 180 days.
        assert_eq!(capped.valid_until, date!(2025 - 08 - 28));
        assert_eq!(capped.frequency_per_day, 4);

        let mut today = bank_offered();
        today["validUntil"] = json!("2025-03-01");
        assert!(consent(today).is_ok());

        let mut past = bank_offered();
        past["validUntil"] = json!("2025-02-28");
        assert!(matches!(
            consent(past),
            Err(ConsentProblem::PeriodInvalid(_))
        ));

        for (field, value) in [
            ("recurringIndicator", json!("true")),
            ("frequencyPerDay", json!(0)),
            ("frequencyPerDay", json!("4")),
            ("validUntil", json!("01.06.2025")),
            ("access", json!({})),
            (
                "access",
                json!({"accounts": [], "balances": [{"iban": "NO9386011117947"}]}),
            ),
            ("access", json!({"accounts": [{"iban": "NO9386011117948"}]})),
            ("access", json!({"allPsd2": "everything"})),
            (
                "access",
                json!({"allPsd2": "allAccounts", "availableAccounts": "allAccounts"}),
            ),
        ] {
            let mut body = bank_offered();
            body[field] = value.clone();
            assert!(
                matches!(consent(body), Err(ConsentProblem::Format(_))),
                "{field}: {value}"
            );
        }
        let mut missing = bank_offered();
        missing
            .as_object_mut()
            .unwrap()
            .remove("combinedServiceIndicator");
        let Err(ConsentProblem::Format(reason)) = consent(missing) else {
            panic!("a consent without combinedServiceIndicator")
        };
        assert!(reason.contains("combinedServiceIndicator"), "{reason}");

        let mut named = bank_offered();
        named["access"] = json!({"balances": [{"iban": "NO9812021000017"}]});
        let named = consent(named).unwrap();
        assert_eq!(named.access.account_scope(), Scope::Named);
        assert_eq!(named.access.balance_scope(), Scope::Named);
        assert_eq!(
            named.access.grants("NO9812021000017", "12021000017"),
            (true, true)
        );
        assert_eq!(
            named.access.grants("NO7612021000025", "12021000025"),
            (false, false)
        );
        let mut by_bban = bank_offered();
        by_bban["access"] = json!({"accounts": [{"bban": "12021000025"}]});
        let by_bban = consent(by_bban).unwrap();
        assert_eq!(
            by_bban.access.grants("NO7612021000025", "12021000025"),
            (true, false)
        );

        let mut global = bank_offered();
        global["access"] = json!({"availableAccounts": "allAccounts"});
        let global = consent(global).unwrap();
        assert_eq!(global.access.account_scope(), Scope::All);
        assert_eq!(global.access.balance_scope(), Scope::Nothing);
        assert_eq!(
            global.access.grants("NO9812021000017", "12021000017"),
            (true, false)
        );
    }

    fn sepa() -> serde_json::Value {
        json!({
            "debtorAccount": {"iban": "NO9812021000017"},
            "instructedAmount": {"currency": "EUR", "amount": "123.50"},
            "creditorAccount": {"iban": "DE89370400440532013000"},
            "creditorName": "Creditor Name",
            "remittanceInformationUnstructured": "Ref Number Merchant"
        })
    }

    fn payment(product: Product, body: serde_json::Value) -> Result<CheckedPayment, String> {
        parse::<PaymentRequest>(body.to_string().as_bytes())?.check(product)
    }

    #[test]
    fn payments_by_product() {
        let checked = payment(Product::Sepa, sepa()).unwrap();
        assert!(checked.fees.is_none());
        assert_eq!(
            serde_json::to_value(&checked.request).unwrap(),
            sepa(),
            "shown back as sent"
        );
        let mut nok = sepa();
        nok["instructedAmount"]["currency"] = json!("NOK");
        assert!(payment(Product::InstantSepa, nok).is_err());

        let domestic = json!({
            "debtorAccount": {"bban": "12021000017"},
            "instructedAmount": {"currency": "NOK", "amount": "100"},
            "creditorAccount": {"bban": "86011117947"},
            "creditorName": "Kari Nordmann"
        });
        assert!(payment(Product::NorwegianDomestic, domestic.clone()).is_ok());
        let mut bad_account = domestic.clone();
        bad_account["creditorAccount"]["bban"] = json!("86011117948");
        assert!(payment(Product::NorwegianDomestic, bad_account).is_err());
        let mut three_decimals = domestic.clone();
        three_decimals["instructedAmount"]["amount"] = json!("100.125");
        assert!(payment(Product::NorwegianDomestic, three_decimals).is_err());
        let mut foreign_debtor = domestic;
        foreign_debtor["debtorAccount"] = json!({"iban": "DE89370400440532013000"});
        assert!(payment(Product::NorwegianDomestic, foreign_debtor).is_err());

        for (field, value) in [
            (
                "instructedAmount",
                json!({"currency": "EUR", "amount": 123.5}),
            ),
            (
                "instructedAmount",
                json!({"currency": "EUR", "amount": "1,50"}),
            ),
            (
                "instructedAmount",
                json!({"currency": "EUR", "amount": "0.00"}),
            ),
            (
                "instructedAmount",
                json!({"currency": "EUR", "amount": "-5"}),
            ),
            (
                "instructedAmount",
                json!({"currency": "eur", "amount": "5"}),
            ),
            ("creditorAccount", json!({})),
            ("creditorAccount", json!({"iban": "DE89370400440532013001"})),
            ("creditorName", json!("")),
            ("creditorName", json!("x".repeat(71))),
            ("creditorAgent", json!("NOT A BIC")),
            ("chargeBearer", json!("OUR")),
            ("remittanceInformationUnstructured", json!("x".repeat(141))),
        ] {
            let mut body = sepa();
            body[field] = value.clone();
            assert!(payment(Product::Sepa, body).is_err(), "{field}: {value}");
        }
        for field in [
            "debtorAccount",
            "instructedAmount",
            "creditorAccount",
            "creditorName",
        ] {
            let mut body = sepa();
            body.as_object_mut().unwrap().remove(field);
            let reason = payment(Product::Sepa, body).unwrap_err();
            assert!(reason.contains(field), "{reason}");
        }
        assert!(parse::<PaymentRequest>(b"[]").is_err());
        assert!(parse::<PaymentRequest>(b"{} {}").is_err());
    }

    #[test]
    fn cross_border_needs_agent_and_address_and_carries_fees() {
        let body = json!({
            "debtorAccount": {"iban": "NO9812021000017"},
            "instructedAmount": {"currency": "NOK", "amount": "1000.00"},
            "creditorAccount": {"iban": "GB29NWBK60161331926819"},
            "creditorAgent": "NWBKGB2L",
            "creditorName": "Jane Doe",
            "creditorAddress": {"townName": "London", "country": "GB"}
        });
        let fees = payment(Product::CrossBorder, body.clone())
            .unwrap()
            .fees
            .unwrap();
        // NOK 1000.00: fee 25.00, conversion 0.5 % = 5.00, total 1030.00.
        assert_eq!(fees.transaction_fees, Amount::nok(Decimal::new(2500, 2)));
        assert_eq!(fees.currency_conversion_fee.amount, "5.00");
        assert_eq!(fees.estimated_total_amount.amount, "1030.00");
        assert_eq!(fees.estimated_total_amount.currency, "NOK");

        let mut usd = body.clone();
        usd["instructedAmount"] = json!({"currency": "USD", "amount": "100.00"});
        let fees = payment(Product::CrossBorder, usd).unwrap().fees.unwrap();
        // USD 100.00 at 10.60 = NOK 1060.00; 0.5 % = 5.30; 1060.00 + 25.00 + 5.30.
        assert_eq!(fees.currency_conversion_fee.amount, "5.30");
        assert_eq!(fees.estimated_total_amount.amount, "1090.30");

        for field in ["creditorAgent", "creditorAddress"] {
            let mut without = body.clone();
            without.as_object_mut().unwrap().remove(field);
            let reason = payment(Product::CrossBorder, without).unwrap_err();
            assert!(reason.contains(field), "{reason}");
        }
        let mut no_country = body.clone();
        no_country["creditorAddress"] = json!({"townName": "London"});
        assert!(payment(Product::CrossBorder, no_country)
            .unwrap_err()
            .contains("country"));
        let mut unknown = body;
        unknown["instructedAmount"]["currency"] = json!("XAU");
        assert!(payment(Product::CrossBorder, unknown).is_err());
    }
}
