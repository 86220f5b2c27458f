//! The three banks the sandbox hosts, each under its own path prefix, and the payment products.

use serde::{Deserialize, Serialize};

/// A bank's id, which is also its path prefix (`/dnb/v1/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BankId {
    Dnb,
    Sparebank1,
    Nordea,
}

/// A payment product (`/v1/payments/{product}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Product {
    #[serde(rename = "sepa-credit-transfers")]
    Sepa,
    #[serde(rename = "instant-sepa-credit-transfers")]
    InstantSepa,
    #[serde(rename = "cross-border-credit-transfers")]
    CrossBorder,
    /// The ASPSP-specific domestic product: NOK to an 11-digit Norwegian account number.
    #[serde(rename = "norwegian-domestic-credit-transfers")]
    NorwegianDomestic,
}

impl Product {
    pub(crate) const ALL: [Product; 4] = [
        Product::Sepa,
        Product::InstantSepa,
        Product::CrossBorder,
        Product::NorwegianDomestic,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Product::Sepa => "sepa-credit-transfers",
            Product::InstantSepa => "instant-sepa-credit-transfers",
            Product::CrossBorder => "cross-border-credit-transfers",
            Product::NorwegianDomestic => "norwegian-domestic-credit-transfers",
        }
    }

    pub(crate) fn parse(value: &str) -> Option<Product> {
        Product::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

/// One bank: who it is and how it differs from the others.
#[derive(Debug)]
pub(crate) struct Bank {
    pub id: BankId,
    pub slug: &'static str,
    pub name: &'static str,
    pub bic: &'static str,
    pub products: &'static [Product],
    /// The 201 of an initiation carries `startAuthorisation` instead of `scaRedirect`.
    pub explicit_authorisation: bool,
    /// A consent's `validUntil` is shortened to at most this many days ahead.
    pub max_consent_days: i64,
}

impl Bank {
    pub(crate) fn offers(&self, product: Product) -> bool {
        self.products.contains(&product)
    }
}

pub(crate) static BANKS: [Bank; 3] = [
    Bank {
        id: BankId::Dnb,
        slug: "dnb",
        name: "DNB (sandbox)",
        bic: "DNBANOKK",
        products: &Product::ALL,
        explicit_authorisation: false,
        max_consent_days: 180,
    },
    Bank {
        id: BankId::Sparebank1,
        slug: "sparebank1",
        name: "SpareBank 1 (sandbox)",
        bic: "SPRONO22",
        products: &[
            Product::Sepa,
            Product::CrossBorder,
            Product::NorwegianDomestic,
        ],
        explicit_authorisation: false,
        max_consent_days: 90,
    },
    Bank {
        id: BankId::Nordea,
        slug: "nordea",
        name: "Nordea (sandbox)",
        bic: "NDEANOKK",
        products: &Product::ALL,
        explicit_authorisation: true,
        max_consent_days: 180,
    },
];

/// The bank whose path prefix is `slug`.
pub(crate) fn find(slug: &str) -> Option<&'static Bank> {
    BANKS.iter().find(|bank| bank.slug == slug)
}

pub(crate) fn get(id: BankId) -> &'static Bank {
    match id {
        BankId::Dnb => &BANKS[0],
        BankId::Sparebank1 => &BANKS[1],
        BankId::Nordea => &BANKS[2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_slugs_and_products_agree() {
        for bank in &BANKS {
            assert_eq!(get(bank.id).slug, bank.slug);
            assert_eq!(find(bank.slug).map(|b| b.id), Some(bank.id));
            assert_eq!(
                serde_json::to_value(bank.id).unwrap(),
                serde_json::json!(bank.slug)
            );
        }
        assert!(find("sandbox").is_none());
        for product in Product::ALL {
            assert_eq!(Product::parse(product.as_str()), Some(product));
            assert_eq!(
                serde_json::to_value(product).unwrap(),
                serde_json::json!(product.as_str())
            );
        }
        assert_eq!(Product::parse("target-2-payments"), None);
        assert!(!get(BankId::Sparebank1).offers(Product::InstantSepa));
    }
}
