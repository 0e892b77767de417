fn main() {
    println!("{}", k3sprov::schema::profile_schema_text());
}
