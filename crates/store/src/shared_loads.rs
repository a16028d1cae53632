//! Aggregates that many commands of one writer transaction read and few change (a program:
//! every accrual reads its account's), loaded once per transaction instead of once per command.
//!
//! Each command of a group commit loads its program to learn the rules. Reading the program's
//! snapshot and parsing its JSON cost about 15,000 instructions per accrual on SQLite, 7.5% of
//! the writer's work (`valgrind --tool=callgrind`), for a batch of thirty accruals that all
//! read the same program.
//!
//! What is kept here was read inside the writer's transaction, which no other writer changes
//! until it ends (SQLite's write lock; PostgreSQL's event-log lock). It stays true until the
//! transaction changes the aggregate: an append forgets it (see [`SharedLoads::forget`]), and
//! the writer forgets everything when it rolls a command or the transaction back. It lives no
//! longer than one run of one batch.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use foldhash::HashMap;
use uuid::Uuid;

use crate::write_tx::Loaded;

/// The aggregates loaded for sharing in one writer transaction (see the module's note).
#[derive(Default)]
pub(crate) struct SharedLoads {
    /// Each aggregate as loaded, a `Loaded<A>` of its own type, by aggregate id.
    loaded: RefCell<HashMap<Uuid, Rc<dyn Any>>>,
}

impl SharedLoads {
    /// The aggregate `aggregate_id` as this transaction loaded it, if it did and it is an `A`.
    pub(crate) fn get<A: 'static>(&self, aggregate_id: Uuid) -> Option<Rc<Loaded<A>>> {
        let loaded = Rc::clone(self.loaded.borrow().get(&aggregate_id)?);
        loaded.downcast().ok()
    }

    /// Keep `loaded` for the transaction's next commands.
    pub(crate) fn put<A: 'static>(&self, loaded: Rc<Loaded<A>>) {
        self.loaded.borrow_mut().insert(loaded.aggregate_id, loaded);
    }

    /// Forget `aggregate_id`: the transaction is about to change it.
    pub(crate) fn forget(&self, aggregate_id: Uuid) {
        self.loaded.borrow_mut().remove(&aggregate_id);
    }

    /// Forget everything: what the transaction wrote may have been undone.
    pub(crate) fn clear(&self) {
        self.loaded.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(aggregate_id: Uuid, version: i64) -> Rc<Loaded<String>> {
        Rc::new(Loaded {
            business_id: Uuid::nil(),
            aggregate_id,
            version,
            state: format!("version {version}"),
        })
    }

    #[test]
    fn an_aggregate_is_found_as_the_type_it_was_kept_as_until_it_is_forgotten() {
        let shared = SharedLoads::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(shared.get::<String>(a).is_none());
        shared.put(loaded(a, 3));
        shared.put(loaded(b, 1));
        assert_eq!(shared.get::<String>(a).map(|l| l.version), Some(3));
        assert!(shared.get::<u32>(a).is_none(), "another type is not this aggregate");
        shared.forget(a);
        assert!(shared.get::<String>(a).is_none());
        assert_eq!(
            shared.get::<String>(b).map(|l| l.state.clone()).as_deref(),
            Some("version 1")
        );
        shared.clear();
        assert!(shared.get::<String>(b).is_none());
    }
}
