//! Generates `methods.rs`: a constant per gRPC method of `proto/`, so a method name in the code
//! is checked by the compiler against the protos, and the list of every method is the protos'.
use std::fmt::Write as _;
use std::path::PathBuf;

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let mut files: Vec<String> = std::fs::read_dir(root.join("kopir/v1"))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".proto"))
        .map(|n| format!("kopir/v1/{n}"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed={}", root.join("kopir/v1").display());
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(&files, [&root])?;
    let mut code = String::new();
    let mut all = Vec::new();
    for file in &fds.file {
        let package = file.package();
        for service in &file.service {
            let full = format!("{package}.{}", service.name());
            writeln!(
                code,
                "/// The methods of `{full}`.\npub mod {} {{",
                snake(service.name())
            )?;
            for m in &service.method {
                let name = format!("{full}/{}", m.name());
                writeln!(
                    code,
                    "    /// `{name}`.\n    pub const {}: &str = \"{name}\";",
                    snake(m.name()).to_ascii_uppercase()
                )?;
                all.push(name);
            }
            writeln!(code, "}}")?;
        }
    }
    writeln!(
        code,
        "/// Every method the protos declare.\npub const ALL: &[&str] = &["
    )?;
    for name in &all {
        writeln!(code, "    \"{name}\",")?;
    }
    writeln!(code, "];")?;
    std::fs::write(
        PathBuf::from(std::env::var("OUT_DIR")?).join("methods.rs"),
        code,
    )?;
    Ok(())
}
