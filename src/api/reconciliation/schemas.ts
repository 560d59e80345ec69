import { z } from 'zod';
import { utcDay } from '../../reconciliation/reconcile';

/** A UTC day, YYYY-MM-DD, that exists on the calendar. */
export const reconciliationDateParam = z.iso.date('a UTC date, YYYY-MM-DD').refine((d) => utcDay(d) !== undefined, 'a UTC date, YYYY-MM-DD');
