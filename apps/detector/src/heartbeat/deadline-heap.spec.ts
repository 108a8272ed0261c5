import fc from 'fast-check';
import { DeadlineHeap } from './deadline-heap.js';

describe('DeadlineHeap', () => {
  it('pops due entries in deadline order and keeps the rest', () => {
    const heap = new DeadlineHeap();
    heap.set('a', 30);
    heap.set('b', 10);
    heap.set('c', 20);
    heap.set('b', 40); // moved later
    expect(heap.popDue(30)).toEqual([
      { key: 'c', deadline: 20 },
      { key: 'a', deadline: 30 },
    ]);
    expect(heap.peek()).toEqual({ key: 'b', deadline: 40 });
    expect(heap.delete('b')).toBe(true);
    expect(heap.size).toBe(0);
  });

  it('behaves like a sorted map under any sequence of sets and deletes', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 20 }), deadline: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 0, max: 1000 }), (ops, now) => {
        const heap = new DeadlineHeap();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            heap.set(String(o.key), o.deadline);
            model.set(String(o.key), o.deadline);
          } else {
            expect(heap.delete(String(o.key))).toBe(model.delete(String(o.key)));
          }
        }
        const due = heap.popDue(now).map((d) => d.deadline);
        const expected = [...model.values()].filter((d) => d <= now).sort((a, b) => a - b);
        expect(due).toEqual(expected);
        expect(heap.size).toBe([...model.values()].filter((d) => d > now).length);
      }),
    );
  });
});
