"""The supervisor's live floor, one job per module:

- `projection`: `LiveFloor`, the counters fed by bus events and by the
  domain events of each commit, the snapshot, and the per-second loop that
  pushes it (call changes go out as coalesced deltas);
- `payloads`: what the floor sends (a campaign's snapshot and rates, the
  rows of calls and abandons);
- `sent_totals`: which agents' day totals a tick sends (those that changed);
- `campaign_meta`: each campaign's settings, dial level and dialable leads;
- `rebuild`: the same counters computed from the database (after a restart,
  at the first event of a day);
- `access`: which campaigns and agents a supervisor may see and act on;
- `queries`: what the floor page reads (`floor_state`, abandons, a call's path);
- `commands`: what a supervisor does from the floor;
- `wiring`: one `LiveFloor` per app (`register_live_floor`, `live_floor_of`)."""
