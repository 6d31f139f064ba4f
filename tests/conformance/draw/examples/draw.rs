//! Prints the specs drawn from seeds: `cargo run -p cachegen-conformance-draw --example
//! draw -- 7` (or `1-40`), each preceded by its seed, to read what a seed covers.

fn main() {
    let text = std::env::args().nth(1).unwrap_or_else(|| "1".to_owned());
    let seeds = cachegen_conformance_draw::parse_seeds(&text).unwrap_or_else(|problem| {
        eprintln!("{problem}");
        std::process::exit(2)
    });
    for seed in seeds {
        let spec = cachegen_conformance_draw::spec::draw(seed);
        print!(
            "---\n{}",
            cachegen_conformance_draw::spec::to_yaml(&spec, &format!("seed {seed}"))
        );
    }
}
