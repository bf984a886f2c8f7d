//! Interned attribute and field names: the bundle's symbol table.

use std::collections::HashMap;

use rampart_engine::bundle::Sym;

/// Attribute and field names, each stored once; [`Sym`] indexes the table.
#[derive(Debug, Default)]
pub struct Symbols {
    names: Vec<String>,
    ids: HashMap<String, Sym>,
}

impl Symbols {
    /// The symbol of `name`, adding it on first use.
    pub fn intern(&mut self, name: &str) -> Sym {
        if let Some(sym) = self.ids.get(name) {
            return *sym;
        }
        let sym = Sym::try_from(self.names.len()).unwrap_or(Sym::MAX);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), sym);
        sym
    }

    /// The name of a symbol.
    pub fn name(&self, sym: Sym) -> &str {
        self.names.get(sym as usize).map_or("", String::as_str)
    }

    /// The table, in symbol order.
    pub fn into_table(self) -> Vec<String> {
        self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_each_name_once() {
        let mut symbols = Symbols::default();
        let a = symbols.intern("auth");
        let b = symbols.intern("tls");
        assert_eq!(symbols.intern("auth"), a);
        assert_ne!(a, b);
        assert_eq!(symbols.name(b), "tls");
        assert_eq!(
            symbols.into_table(),
            vec!["auth".to_owned(), "tls".to_owned()]
        );
    }
}
