"""Who sees what (DOMAIN.md): the rows of the register a recipient may see.

- a customer sees only its own hazards (its 户号 in its county) — never another customer's;
- a county government authority and a county supply company see their county;
- prefecture-level entries (county blank or 全州) see every county.
"""

from __future__ import annotations

import pandas as pd

from hazardnet.delivery.directory import Recipient
from schemas.vocab import PARTY_CUSTOMER


def scoped_register(register: pd.DataFrame, recipient: Recipient) -> pd.DataFrame:
    """The rows of `register` (as from consolidated_register.current_register) `recipient` may see."""
    if register.empty:
        return register.copy()
    if recipient.party == PARTY_CUSTOMER:
        if not recipient.customer_id or not recipient.county:
            return register.iloc[0:0].copy()  # a customer without 户号 or county sees nothing
        mask = (register["county"] == recipient.county) & (register["customer_id"].astype(str) == recipient.customer_id)
    elif recipient.county is None:
        mask = pd.Series(True, index=register.index)
    else:
        mask = register["county"] == recipient.county
    return register.loc[mask].copy()


def scope_label(recipient: Recipient, prefecture: str) -> str:
    """What the scope is called in subjects, headers and file names: 格尔木市, 海西州, or the customer's name."""
    if recipient.party == PARTY_CUSTOMER:
        return recipient.org_name
    return recipient.county or prefecture
