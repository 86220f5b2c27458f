//! Prints the whole API's OpenAPI document (`cargo xtask openapi` writes it for api-meta).

fn main() {
    print!("{}", drop_local::openapi_json());
}
