-- Performance tier of each DORA metric per month and report year (docs/METRICS.md#performance-tiers).
select * from marts.dora_performance
