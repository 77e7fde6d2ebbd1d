import type { Statement, UsageGrouped } from '@gateway/contracts';
import { statementCsv, usageGroupedCsv } from './reports';

describe('report CSVs', () => {
  it('usageGroupedCsv: the group fields in group_by order, then the sums; a null key is an empty cell', () => {
    const result: UsageGrouped = {
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-12-01T00:00:00.000Z',
      group_by: ['day', 'key', 'model'],
      data: [
        { day: '2026-11-02', key_id: 'key_1', model: 'gpt-4o-mini', requests: 3, input_tokens: 30, cached_input_tokens: 4, output_tokens: 12, reasoning_tokens: 2, cost_micros: 17 },
        { day: '2026-11-03', key_id: null, model: 'sora,2', requests: 1, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cost_micros: 400000 },
      ],
      total: { requests: 4, input_tokens: 30, cached_input_tokens: 4, output_tokens: 12, reasoning_tokens: 2, cost_micros: 400017 },
    };
    expect(usageGroupedCsv(result)).toBe(
      [
        'day,key_id,model,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_micros',
        '2026-11-02,key_1,gpt-4o-mini,3,30,4,12,2,17',
        '2026-11-03,,"sora,2",1,0,0,0,0,400000',
        '',
      ].join('\n'),
    );
    // the input is not changed, and an empty report is its header alone
    expect(result.data[1].model).toBe('sora,2');
    expect(usageGroupedCsv({ group_by: ['account', 'model'], data: [] })).toBe('account_id,model,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_micros\n');
  });

  it('statementCsv: one line per entry with its running balance; usage and unit prices on charges; free text that a spreadsheet would run is defused', () => {
    const statement: Statement = {
      account_id: 'acct_1',
      from: '1970-01-01T00:00:00.000Z',
      to: '2026-12-01T00:00:00.000Z',
      opening_balance_micros: 0,
      closing_balance_micros: 999_210,
      balance_micros: 999_210,
      entries: [
        { id: 1, created_at: '2026-11-01T10:00:00.000Z', kind: 'topup', amount_micros: 1_000_000, running_balance_micros: 1_000_000, reference: 'inv-1', reason: 'wire, "Nov"', actor: 'dana@example.com', hold_id: null, request_id: null, model: null, usage: null },
        {
          id: 2,
          created_at: '2026-11-01T10:01:00.000Z',
          kind: 'charge',
          amount_micros: -790,
          running_balance_micros: 999_210,
          reference: null,
          reason: null,
          actor: null,
          hold_id: 'hold_1',
          request_id: 'req_1',
          model: 'gpt-4o-mini',
          usage: { input_tokens: 100, cached_input_tokens: 0, output_tokens: 1300, reasoning_tokens: 0, cache_write_tokens: 0, cache_write_1h_tokens: 0, web_searches: 0, unit_prices: { input_per_mtok_micros: 150000, output_per_mtok_micros: 600000 }, price_id: 7 },
        },
        { id: 3, created_at: '2026-11-02T00:00:00.000Z', kind: 'adjustment', amount_micros: -10, running_balance_micros: 999_200, reference: '=HYPERLINK("x")', reason: '-fix', actor: 'admin', hold_id: null, request_id: null, model: null, usage: null },
      ],
    };
    const lines = statementCsv(statement).split('\n');
    expect(lines[0]).toBe('id,created_at,kind,amount_micros,running_balance_micros,reference,reason,actor,hold_id,request_id,model,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cache_write_tokens,cache_write_1h_tokens,web_searches,price_id,unit_prices');
    expect(lines[1]).toBe('1,2026-11-01T10:00:00.000Z,topup,1000000,1000000,inv-1,"wire, ""Nov""",dana@example.com,,,,,,,,,,,,');
    expect(lines[2]).toBe('2,2026-11-01T10:01:00.000Z,charge,-790,999210,,,,hold_1,req_1,gpt-4o-mini,100,0,1300,0,0,0,0,7,"{""input_per_mtok_micros"":150000,""output_per_mtok_micros"":600000}"');
    expect(lines[3]).toBe(`3,2026-11-02T00:00:00.000Z,adjustment,-10,999200,"'=HYPERLINK(""x"")",'-fix,admin,,,,,,,,,,,,`);
    expect(lines[4]).toBe('');
    expect(lines.length).toBe(5);
    // every line has the header's number of columns outside quotes
    const columns = (l: string) => l.replace(/"(?:[^"]|"")*"/g, 'q').split(',').length;
    for (const l of lines.slice(1, 4)) expect(columns(l)).toBe(20);
  });
});
