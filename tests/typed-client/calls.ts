// The calls the frontends of this app family make, written against a client generated from
// openapi.yaml. `npm test` regenerates the types and type-checks this file: a parameter published
// with the wrong type (a number as a string, say) fails here before a frontend team meets it.
import createClient from "openapi-fetch";
import type { paths } from "./generated/api";

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });
const headers = { Authorization: "Bearer <token>" };

export async function calls(userId: string, id: number) {
  // The list, with numbers, booleans and the published words.
  await api.GET("/api/tasks", {
    headers,
    params: { query: { limit: 10, offset: 0, completed: true, sort: "-due_date", order: "asc" } },
  });
  await api.GET("/api/tasks", {
    headers,
    params: { query: { page: 2, limit: 20, status: "pending", overdue: true, due_date_filter: "today", tz: "Asia/Karachi" } },
  });
  await api.GET("/api/tasks", { headers, params: { query: { search: "milk", tags: "work,home", priority: "high" } } });
  await api.GET("/api/{user_id}/tasks", { headers, params: { path: { user_id: userId }, query: { completed: false } } });

  const created = await api.POST("/api/tasks", {
    headers,
    body: { title: "Buy milk", description: "2 litres", priority: "high", tags: ["shopping"], due_date: "2026-12-13" },
  });
  const task = created.data;
  if (task) {
    const title: string = task.title;
    const done: boolean = task.completed;
    const version: string = task.etag;
    void [title, done, version];
  }
  await api.GET("/api/tasks/{id}", { headers, params: { path: { id } } });
  await api.PUT("/api/tasks/{id}", { headers, params: { path: { id } }, body: { title: "Buy oat milk" } });
  await api.PATCH("/api/tasks/{id}/complete", { headers, params: { path: { id } }, body: { completed: true } });
  await api.DELETE("/api/tasks/{id}", { headers, params: { path: { id } } });

  const stats = await api.GET("/api/tasks/stats", { headers, params: { query: { tz: "Europe/Paris" } } });
  const overdue: number | undefined = stats.data?.overdue;
  void overdue;
}
