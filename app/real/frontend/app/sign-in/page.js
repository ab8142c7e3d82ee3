import { redirect } from "next/navigation";
import { currentUser } from "@/lib/session";
import SignInForm from "./SignInForm";

export const dynamic = "force-dynamic";

export default function SignIn({ searchParams }) {
  if (currentUser()) redirect("/");
  return <SignInForm expired={searchParams?.expired === "1"} />;
}
