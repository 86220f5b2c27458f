//! Identifiers that can only be built valid.
