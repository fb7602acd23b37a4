import { fuzzSpecs } from './support/fuzz.ts';
import { startMemoryApi } from './support/memory-api.ts';

fuzzSpecs('in-memory stack', () => startMemoryApi({ OPERATOR_REQUESTS_PER_MINUTE: 100_000 }), { tenant: 150, operator: 100 });
