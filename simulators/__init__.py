"""Virtual home devices: physiology models, device schedules and faults,
scenarios.  The pure core (physiology, devices, messages, faults, scenario,
plan) never touches the network; a runner publishes what `plan.Simulation`
plans."""
