// `npm run api-key`: prints a new API key for callers, and the hash to put in API_KEY_HASHES.
import { newApiKey } from '../src/services/api-keys.js'

const { key, hash } = newApiKey()
process.stdout.write(`API key (give to the caller): ${key}\nAPI_KEY_HASHES entry:        ${hash}\n`)
