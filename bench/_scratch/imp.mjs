const mods = process.argv.slice(2)
for (const m of mods) {
  const t = performance.now()
  await import(m)
  console.log(m.padEnd(40), (performance.now() - t).toFixed(0).padStart(5), 'ms rss', (process.memoryUsage().rss/1e6).toFixed(1))
}
