import { observerFault, type ObserverFacts } from './observer-fault.js';

describe('observerFault', () => {
  const cases: { name: string; facts: ObserverFacts; intervalMs: number; fault: ReturnType<typeof observerFault> }[] = [
    { name: 'on time', facts: { timerLateMs: 0, handoverRunning: false }, intervalMs: 1000, fault: undefined },
    { name: 'a little late (below the threshold)', facts: { timerLateMs: 1999, handoverRunning: false }, intervalMs: 1000, fault: undefined },
    { name: 'late by the threshold', facts: { timerLateMs: 2000, handoverRunning: false }, intervalMs: 1000, fault: { signal: 'timer_late', lateMs: 2000 } },
    { name: 'past the threshold but within one heartbeat interval', facts: { timerLateMs: 4000, handoverRunning: false }, intervalMs: 5000, fault: undefined },
    { name: 'late by more than one heartbeat interval', facts: { timerLateMs: 5200.4, handoverRunning: false }, intervalMs: 5000, fault: { signal: 'timer_late', lateMs: 5200 } },
    { name: 'during a handover, on time', facts: { timerLateMs: 0, handoverRunning: true }, intervalMs: 1000, fault: { signal: 'handover' } },
  ];
  it.each(cases)('$name', ({ facts, intervalMs, fault }) => {
    expect(observerFault(facts, intervalMs, 2000)).toEqual(fault);
  });
});
