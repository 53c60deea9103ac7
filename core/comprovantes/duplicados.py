"""One payment, one receipt: the same end-to-end id in another file is a duplicate of the first.

The first receipt (the lowest id, i.e. the first uploaded) with an E2E id holds it in the
UNIQUE column `e2e_original`; every other receipt with that id points at the holder in
`duplicado_de` and leaves `e2e_original` NULL. `claim` runs inside the transaction that saves a
receipt's fields: it locks the current holder (SELECT ... FOR UPDATE) and either becomes the
holder or a duplicate. Two receipts of one payment saved at the same moment by two workers
both see no holder; the UNIQUE index lets exactly one commit, the other gets an
IntegrityError (on MariaDB, where both hold a gap lock, one may be a deadlock victim instead)
and its caller saves again, now seeing the winner (processing.save_read, review.correct).
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from core.models import Comprovante

# Saves of one receipt tried when others of its payment are saved at the same moment.
CLAIM_ATTEMPTS = 3
MYSQL_DEADLOCK, MYSQL_LOCK_WAIT_TIMEOUT = 1213, 1205


def lost_claim_race(exc: DBAPIError) -> bool:
    """Whether a failed save lost a race for an E2E id (saving again will see the winner): the
    UNIQUE index refused it, or MariaDB chose it as a deadlock victim."""
    if isinstance(exc, IntegrityError):
        return True
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return code in (MYSQL_DEADLOCK, MYSQL_LOCK_WAIT_TIMEOUT)


def claim(session: Session, receipt: Comprovante) -> None:
    """Make `receipt` the holder of its E2E id or a duplicate of the holder (the earliest
    receipt wins, even when it is read after a later one); a receipt without an id is neither."""
    e2e = receipt.id_transacao
    if receipt.e2e_original and receipt.e2e_original != e2e:
        release(session, receipt)
    if not e2e:
        receipt.duplicado_de = None
        return
    holder = session.scalar(select(Comprovante).where(Comprovante.e2e_original == e2e)
                            .with_for_update())
    if holder is None or holder.id == receipt.id:
        receipt.e2e_original, receipt.duplicado_de = e2e, None
    elif holder.id < receipt.id:
        receipt.e2e_original, receipt.duplicado_de = None, holder.id
    else:
        # A later upload was read first: the earlier file takes the id over.
        holder.e2e_original, holder.duplicado_de = None, receipt.id
        session.flush()  # the old holder lets go before the new one takes the UNIQUE value
        receipt.e2e_original, receipt.duplicado_de = e2e, None
        _repoint(session, old=holder.id, new=receipt.id)


def release(session: Session, receipt: Comprovante) -> None:
    """Give up the E2E id `receipt` holds (its id was corrected): the earliest of its duplicates,
    if any, becomes the holder and the others point at it."""
    e2e, receipt.e2e_original = receipt.e2e_original, None
    session.flush()
    heir = session.scalar(select(Comprovante).where(Comprovante.duplicado_de == receipt.id,
                                                    Comprovante.id_transacao == e2e)
                          .order_by(Comprovante.id).limit(1).with_for_update())
    if heir is not None:
        heir.e2e_original, heir.duplicado_de = e2e, None
        _repoint(session, old=receipt.id, new=heir.id)


def _repoint(session: Session, old: int, new: int) -> None:
    session.execute(update(Comprovante).where(Comprovante.duplicado_de == old, Comprovante.id != new)
                    .values(duplicado_de=new).execution_options(synchronize_session="fetch"))
