import { redirect } from "next/navigation";
import { currentUser } from "@/lib/session";
import TodoList from "./TodoList";

// Rendered per request: who is signed in comes from the request's cookie.
export const dynamic = "force-dynamic";

export default function Home() {
  const user = currentUser();
  if (!user) redirect("/sign-in");
  return <TodoList user={user.sub} />;
}
