//! Writes the typed cache module of `sessions.yaml` into OUT_DIR; cargo reruns it when
//! the spec changes.

fn main() {
    if let Err(err) = cachegen_compiler::Builder::new("sessions.yaml").compile() {
        // Spec problems render with file:line:column, like rustc's own errors.
        eprintln!("{err}");
        std::process::exit(1);
    }
}
