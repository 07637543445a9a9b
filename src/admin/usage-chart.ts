import type { UsagePeriod } from '../usage-store.js'

const DAY = 24 * 60 * 60 * 1000

/** Days the panel's chart shows, today (UTC) last. */
export const CHART_DAYS = 30

/**
 * A key's counts as the panel draws them: one entry per UTC day of the last
 * CHART_DAYS, oldest first, zero where nothing was counted; hourly counts are
 * added up into their day.
 */
export function dailyUsage (periods: UsagePeriod[], now: number): Array<{ day: string, count: number }> {
  const today = Math.floor(now / DAY) * DAY
  const days = Array.from({ length: CHART_DAYS }, (_, i) => ({ day: new Date(today - (CHART_DAYS - 1 - i) * DAY).toISOString().slice(0, 10), count: 0 }))
  const first = today - (CHART_DAYS - 1) * DAY
  for (const { periodStart, count } of periods) {
    const index = Math.floor((periodStart.getTime() - first) / DAY)
    if (index >= 0 && index < CHART_DAYS) days[index].count += count
  }
  return days
}
