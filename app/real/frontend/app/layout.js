import "./globals.css";

export const metadata = {
  title: "Todo",
  description: "The Todo app deployed by todoplan",
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <main>{children}</main>
      </body>
    </html>
  );
}
