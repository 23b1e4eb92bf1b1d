import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'mysql',
  schema: './src/services/identifier-store/schema.ts',
  out: './migrations',
})
