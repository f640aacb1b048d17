"""The policy pack: reading it, saving an edit, renaming a category, and what the active model
cannot score of it."""
from __future__ import annotations

from typing import Optional

from engine import classifier
from engine.fileio import StorageError
from engine.policy import PolicyError, PolicyPack, PolicyStore, parse_pack
from engine.watched import Watched
from server.service.errors import Conflict, Invalid, NotFound
from server.storage import Storage


class PolicyActions:
    policy: PolicyStore
    storage: Storage
    model: Watched[classifier.Model]

    def current_policy(self) -> PolicyPack:
        return self.policy.current()

    def _current_pack_at(self, version: int) -> PolicyPack:
        current = self.policy.current()
        if version != current.version:
            raise Conflict(f"the policy changed since version {version} was read (it is now version "
                           f"{current.version}); reload it and apply your edit again")
        return current

    def save_policy(self, pack: PolicyPack, actor: str) -> tuple[PolicyPack, list[str]]:
        """Save an edited pack as the next version; return it with warnings about what the active
        model cannot score. `pack.version` must be the version the admin started from, so two
        admins editing at once cannot silently overwrite each other. A category that stored
        examples are labelled with cannot be deleted (the next training would fail on them)."""
        current = self._current_pack_at(pack.version)
        labelled = self.storage.examples.label_counts()
        in_use = {c: labelled[c] for c in sorted(set(current.category_ids) - set(pack.category_ids))
                  if labelled.get(c)}
        if in_use:
            raise Conflict("cannot delete " + ", ".join(f"{c} ({n} stored examples are labelled with it)"
                                                         for c, n in in_use.items())
                           + ": relabel or delete those examples first, or rename the category instead")
        saved = pack.model_copy(update={"version": current.version + 1})
        self.policy.save(saved)
        before = {t.term for t in current.terms}
        after = {t.term for t in saved.terms}
        try:
            self.storage.audit.record(actor, "policy.edit", {
                "version": saved.version,
                "categories_changed": [c.id for c in saved.categories if c not in current.categories],
                "categories_removed": sorted(set(current.category_ids) - set(saved.category_ids)),
                "terms_added": sorted(after - before),
                "terms_removed": sorted(before - after),
            })
        except StorageError:
            self.policy.save(current)  # an edit without its audit entry would be half a change
            raise
        return saved, self.policy_warnings(saved)

    def rename_category(self, old: str, new: str, version: int, actor: str) -> tuple[PolicyPack, dict[str, int]]:
        """Rename category `old` to `new` everywhere: the pack (its terms and detectors follow),
        stored examples and feedback. Corpus files and models made before keep counting for it
        through the category's former ids. Returns the saved pack and how many rows were relabelled."""
        current = self._current_pack_at(version)
        if old not in current.category_ids:
            raise NotFound(f"no category {old!r}")
        renamed = current.category(old)
        taken = {i for c in current.categories if c.id != old for i in c.ids}
        if new in taken or new == old:
            raise Conflict(f"the id {new!r} is already used by a category (now or before a rename)")
        update = {
            "version": current.version + 1,
            "categories": [c.model_copy(update={"id": new, "formerly": [old] + [f for f in c.formerly if f != new]})
                           if c.id == old else c for c in current.categories],
            "terms": [t.model_copy(update={"category": new}) if t.category == old else t for t in current.terms],
            "detectors": {name: new if category == old else category for name, category in current.detectors.items()},
        }
        try:
            saved = parse_pack(current.model_copy(update=update).model_dump())
        except PolicyError as exc:  # the new id's shape
            raise Invalid(str(exc)) from None
        # The pack first: through its former ids, rows not yet relabelled still count for it.
        self.policy.save(saved)
        relabelled = self.storage.labels.rename(old, new, actor, {"from": old, "to": new, "version": saved.version,
                                                                  "title": renamed.title})
        return saved, relabelled

    def model_scores(self, pack: PolicyPack) -> dict[str, int]:
        """Which of the pack's categories the active model scores (category id -> its column);
        empty while no model is loaded."""
        model = self._served_model()
        return classifier.model_columns(model, pack) if model else {}

    def policy_warnings(self, pack: PolicyPack) -> list[str]:
        """What the pack asks that the active model cannot give: categories without a model score,
        scores without a category."""
        model = self._served_model()
        if model is None:
            return []
        columns = classifier.model_columns(model, pack)
        warnings = [f"{c.id} has no model score: only detectors and company terms flag it until a model is trained "
                    "with examples labelled with it (upload them, then train)"
                    for c in pack.categories if c.id not in columns]
        claimed = {model.categories[i] for i in columns.values()}
        ignored = [c for c in model.categories if c not in claimed]
        if ignored:
            warnings.append(f"the active model scores {', '.join(ignored)}, which the pack no longer has: "
                            "those scores are ignored")
        return warnings

    def _served_model(self) -> Optional[classifier.Model]:
        loaded = self.model.current()
        return loaded.value if loaded else None
