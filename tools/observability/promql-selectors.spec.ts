import { selectorsIn } from './promql-selectors';

describe('selectorsIn', () => {
  it.each([
    ['a plain metric', 'autoheal_outbox_pending_events', [{ metric: 'autoheal_outbox_pending_events', labels: [] }]],
    [
      'a quantile over a histogram with Grafana variables',
      'histogram_quantile(0.95, sum by (le) (rate(autoheal_x_seconds_bucket{result="verified", tenant=~"$tenant"}[$__rate_interval])))',
      [{ metric: 'autoheal_x_seconds_bucket', labels: ['result', 'tenant'] }],
    ],
    [
      'vector matching and comparisons',
      'max by (stream) (a_lag) / on (stream) group_left max by (stream) (b_max_age > 0) > 1e9',
      [
        { metric: 'a_lag', labels: [] },
        { metric: 'b_max_age', labels: [] },
      ],
    ],
    ['label values in a string are not names', 'up{job=~"autoheal-(detector|decision)"} == 0', [{ metric: 'up', labels: ['job'] }]],
    ['keywords are not names', 'a_total unless b_total or c_total offset 5m', ['a_total', 'b_total', 'c_total'].map((metric) => ({ metric, labels: [] }))],
  ])('%s', (_name, expression, expected) => {
    expect(selectorsIn(expression)).toEqual(expected);
  });
});
