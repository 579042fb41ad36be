"""A thin wrapper over ``pynamodb.transactions.TransactWrite`` that names each item.

DynamoDB answers a cancelled ``TransactWriteItems`` with one cancellation reason per item, in the
order the items were sent. PynamoDB sends condition checks, then deletes, then puts, then updates;
:class:`Transaction` records a label for each item in that same order, so a caller learns *which*
condition failed (``"email"``, ``"studio"`` ...) instead of guessing from the text.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite


class TransactionFailed(Exception):
    """The transaction was cancelled; ``failed`` holds the labels whose condition did not hold.

    Attributes
    ----------
    failed:
        Labels of the items whose condition failed (empty when cancelled for another reason,
        e.g. a conflicting concurrent transaction).
    reasons:
        ``{label: cancellation code}`` for every item DynamoDB named.
    """

    def __init__(self, failed: set[str], reasons: dict[str, str]) -> None:
        super().__init__(f"transaction cancelled: {reasons or 'no reason given'}")
        self.failed = failed
        self.reasons = reasons


class Transaction:
    """Collect labelled writes, then :meth:`commit` them atomically.

    Examples
    --------
    >>> tx = Transaction()
    >>> tx.save("email", EmailItem(...), condition=EmailItem.pk.does_not_exist())
    >>> tx.commit()   # raises TransactionFailed(failed={"email"}) when the e-mail is taken
    """

    def __init__(self) -> None:
        self._checks: list[tuple[str, type[Model], str, str, Condition]] = []
        self._ops: dict[str, list[tuple[str, Model, dict[str, Any]]]] = {
            "delete": [],
            "save": [],
            "update": [],
        }

    def save(self, label: str, model: Model, condition: Condition | None = None) -> None:
        """Put ``model`` (whole item), if ``condition`` holds."""
        self._ops["save"].append((label, model, {"condition": condition}))

    def update(
        self, label: str, model: Model, actions: list[Action], condition: Condition | None = None
    ) -> None:
        """Apply ``actions`` to the item of ``model``, if ``condition`` holds."""
        self._ops["update"].append((label, model, {"actions": actions, "condition": condition}))

    def delete(self, label: str, model: Model, condition: Condition | None = None) -> None:
        """Delete the item of ``model``, if ``condition`` holds."""
        self._ops["delete"].append((label, model, {"condition": condition}))

    def check(
        self, label: str, model_cls: type[Model], hash_key: str, range_key: str, condition: Condition
    ) -> None:
        """Require ``condition`` on an item that is not written."""
        self._checks.append((label, model_cls, hash_key, range_key, condition))

    def _labels(self) -> list[str]:
        labels = [label for label, *_ in self._checks]
        return labels + [label for kind in ("delete", "save", "update") for label, _, _ in self._ops[kind]]

    def commit(self) -> None:
        """Write every item atomically (DynamoDB ``TransactWriteItems``).

        Raises
        ------
        TransactionFailed
            The transaction was cancelled (a condition failed or a concurrent write conflicted).
        pynamodb.exceptions.TransactWriteError
            Any other failure (throttling, validation).
        """
        models: list[Any] = [model_cls for _, model_cls, *_ in self._checks]
        models += [model for ops in self._ops.values() for _, model, _ in ops]
        connection = models[0]._get_connection().connection
        try:
            with TransactWrite(connection=connection) as tx:
                for _, model_cls, hash_key, range_key, condition in self._checks:
                    tx.condition_check(model_cls, hash_key, range_key, condition=condition)
                for _, model, kw in self._ops["delete"]:
                    tx.delete(model, condition=kw["condition"])
                for _, model, kw in self._ops["save"]:
                    tx.save(model, condition=kw["condition"])
                for _, model, kw in self._ops["update"]:
                    tx.update(model, actions=kw["actions"], condition=kw["condition"])
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            reasons: dict[str, str] = {}
            for label, reason in zip(self._labels(), exc.cancellation_reasons, strict=False):
                if reason is not None and reason.code and reason.code != "None":
                    reasons[label] = reason.code
            failed = {label for label, code in reasons.items() if code == "ConditionalCheckFailed"}
            raise TransactionFailed(failed, reasons) from exc
