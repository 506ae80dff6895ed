"""`make cost`: the monthly cost at idle of a synthesized template, itemised by resource.

`template` reads what the template makes, `prices` the one price file (prices.json), `idle`
prices the template at its minimum counts, `per_task` the requests a task costs (from the
bench's figures), `report` prints both; `python -m tools.cost <cdk.out>` runs them.
"""
