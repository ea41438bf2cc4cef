"""The benchmark of `reconciler plan` and `reconciler apply` (`python bench/bench.py`), by job:
`harness` (the served sandbox, measured processes, timing), `workloads` (the desired and live
state at a size), `baseline` (the floors and the scripts the tool is compared with), `jobs`
(what is measured), `report` (targets, table, JSON); `bench_validate.py` times the loader alone."""
