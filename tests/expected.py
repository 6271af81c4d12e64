"""Hand-computed results for ``data/skeleton.jsonl``, shared by the tiers that build them.

First touch, per won deal (a touch counts only if it happened at or before the win):
- D1 (L1, 1000 EUR): paid_search at 01-01 10:00 precedes email at 01-02.
- D2 (L2, 2500.50 EUR): email at 08:00+02:00 = 06:00Z precedes paid_search at 07:00Z.
- D3 (L3, 400 EUR): the referral touch arrived late but happened first (01-01);
  the paid_social touch of 02-01 came after the win and is not on the path.
- D4 (L4, 300 USD): an outbound lead with no touches: unattributed, not dropped.
- The deal of L9 is refused (the lead was never created); the repeated t-l1-1 is a duplicate.
"""

SKELETON_RECORDS = 18
SKELETON_STORED = 16
SKELETON_STORE_EVENTS = 21  # 16 facts + 5 lead streams opened
FIRST_TOUCH_CREDITS = [
    {"channel": "(unattributed)", "currency": "USD", "conversions": "1", "revenue": "300.00"},
    {"channel": "email", "currency": "EUR", "conversions": "1", "revenue": "2500.50"},
    {"channel": "paid_search", "currency": "EUR", "conversions": "1", "revenue": "1000.00"},
    {"channel": "referral", "currency": "EUR", "conversions": "1", "revenue": "400.00"},
]
