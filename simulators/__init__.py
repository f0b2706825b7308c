"""Virtual home devices: physiology models, device schedules and faults,
scenarios.  The pure core (physiology, devices, messages, faults, scenario,
plan, pacing, summary) never touches the network; `connections` holds the
devices' MQTT clients, `runner` paces what `plan.Simulation` plans onto them,
`enrol` registers the devices and `commands` is `vward simulate`
(docs/simulators.md; `vward bench simulate` is benchmarks/simulate.py)."""
