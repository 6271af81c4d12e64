"""Hand-computed results for ``data/skeleton.jsonl``, shared by the tiers that build them.

First touch, per won deal (a touch counts only if it happened at or before the win):
- D1 (L1, 1000 EUR): paid_search at 01-01 10:00 precedes email at 01-02.
- D2 (L2, 2500.50 EUR): email at 08:00+02:00 = 06:00Z precedes paid_search at 07:00Z.
- D3 (L3, 400 EUR): the referral touch arrived late but happened first (01-01);
  the paid_social touch of 02-01 came after the win and is not on the path.
- D4 (L4, 300 USD): an outbound lead created at SQL, with no touches: unattributed,
  not dropped.
- The deal of L9 is refused (the lead was never created); the repeated t-l1-1 is a duplicate.
"""

SKELETON_RECORDS = 24
SKELETON_STORED = 22
SKELETON_STORE_EVENTS = 27  # 22 facts + 5 lead streams opened
FIRST_TOUCH_CREDITS = [
    {"channel": "(unattributed)", "currency": "USD", "conversions": "1", "value": "300.00"},
    {"channel": "email", "currency": "EUR", "conversions": "1", "value": "2500.50"},
    {"channel": "paid_search", "currency": "EUR", "conversions": "1", "value": "1000.00"},
    {"channel": "referral", "currency": "EUR", "conversions": "1", "value": "400.00"},
]
SKELETON_TALLY = "received 24 = stored 22 + duplicates 1 + dead-lettered 1: reconciles"
SKELETON_REFUSED_LINE = 24  # the deal of L9, a lead that was never created
SKELETON_RULE = "funnel rule: deal_won refused: lead 'L9' is at stage visitor; "
SKELETON_RULE += "deal_won is allowed at: opportunity, sql"
# Refused facts are parked first; at the end of a file, what is still parked is dead.
SKELETON_REFUSAL = SKELETON_RULE + " (parked until the fact it needs arrived; it never did)"
