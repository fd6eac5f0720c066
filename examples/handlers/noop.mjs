// Does nothing and returns an empty output at once: measures the platform, not the work.
export default async function handle() {
  return undefined;
}
