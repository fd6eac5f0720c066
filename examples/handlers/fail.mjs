// Always fails: shows retries and dead-lettering.
export default async function handle() {
  throw new Error("this task always fails");
}
