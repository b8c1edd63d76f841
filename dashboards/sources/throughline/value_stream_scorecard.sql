-- Value stream scorecard per month: flow, DORA, team and realization side by side (docs/METRICS.md#value-stream-scorecard).
select * from marts.value_stream_scorecard
