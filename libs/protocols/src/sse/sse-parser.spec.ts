import { SseParser } from './sse-parser';

const STREAM = 'data: {"a":1}\n\nevent: ping\ndata: x\ndata: y\n\n: comment\n\ndata: [DONE]\n\n';

describe('SseParser', () => {
  it('parses whole events, multi-line data and event names, skipping comments', () => {
    const p = new SseParser();
    expect(p.push(STREAM)).toEqual([{ data: '{"a":1}' }, { event: 'ping', data: 'x\ny' }, { data: '[DONE]' }]);
  });

  it('gives the same events however the bytes are split', () => {
    const bytes = Buffer.from(STREAM.replace(/\n/g, '\r\n'));
    for (let size = 1; size <= 7; size++) {
      const p = new SseParser();
      const events = [];
      for (let i = 0; i < bytes.length; i += size) events.push(...p.push(bytes.subarray(i, i + size)));
      events.push(...p.end());
      expect(events).toEqual([{ data: '{"a":1}' }, { event: 'ping', data: 'x\ny' }, { data: '[DONE]' }]);
    }
  });

  it('does not split a multi-byte character cut between chunks', () => {
    const bytes = Buffer.from('data: héllo 你好\n\n');
    const p = new SseParser();
    const events = [...p.push(bytes.subarray(0, 8)), ...p.push(bytes.subarray(8, 15)), ...p.push(bytes.subarray(15))];
    expect(events).toEqual([{ data: 'héllo 你好' }]);
  });

  it('flushes an event left without its blank line at end of stream', () => {
    const p = new SseParser();
    expect(p.push('data: last')).toEqual([]);
    expect(p.end()).toEqual([{ data: 'last' }]);
  });
});
